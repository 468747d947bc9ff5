/**
 * The token service of a registry using distribution's `auth: token` (the Docker/OCI bearer token
 * flow): a self-signed certificate (openssl) the registry trusts, and an HTTP endpoint that checks
 * Basic credentials and issues RS256 JWTs with the `x5c` chain and the granted `access`.
 */
import { execFileSync } from "node:child_process";
import { randomUUID, sign } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localServer, type LocalServer } from "./sources.ts";

export interface TokenService {
  server: LocalServer;
  /** The registry config section pointing at this service. */
  registryAuthConfig: string;
  /** Scopes asked for, in order. */
  scopes: string[];
  /** A token with every action on every repository, for pushing test artifacts. */
  adminToken(repository: string): string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startTokenService(o: { user: string; password: string; service?: string; grant?: string[] }): Promise<TokenService> {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-token-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=sslmem-test-token"], { stdio: "ignore" });
  const key = readFileSync(keyPath);
  const der = execFileSync("openssl", ["x509", "-in", certPath, "-outform", "DER"]);
  const service = o.service ?? "sslmem-test-registry";
  const issuer = "sslmem-test-issuer";
  const scopes: string[] = [];
  const issue = (access: { type: string; name: string; actions: string[] }[]) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [der.toString("base64")] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: o.user, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = b64url(sign("sha256", Buffer.from(`${header}.${claims}`), key));
    return `${header}.${claims}.${signature}`;
  };
  const expected = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString("base64")}`;
  const server = await localServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ details: "invalid credentials" }));
      return;
    }
    const scope = url.searchParams.get("scope") ?? "";
    scopes.push(scope);
    const [type, name, actions] = scope.split(":");
    const granted = actions?.split(",").filter((a) => (o.grant ?? ["pull"]).includes(a)) ?? [];
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: issue(type && name ? [{ type, name, actions: granted }] : []) }));
  });
  return {
    server,
    scopes,
    registryAuthConfig: ["auth:", "  token:", `    realm: ${server.url}/token`, `    service: ${service}`, `    issuer: ${issuer}`, `    rootcertbundle: ${certPath}`].join("\n"),
    adminToken: (repository) => issue([{ type: "repository", name: repository, actions: ["pull", "push"] }]),
  };
}
