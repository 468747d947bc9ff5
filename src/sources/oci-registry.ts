/**
 * A read-only client of the OCI distribution API (GET /v2/<name>/manifests/<ref>, /blobs/<digest>)
 * over the guarded fetch, with the registry token flow: a 401 carrying
 * `WWW-Authenticate: Bearer realm=…,service=…,scope=…` is answered by fetching a token from the
 * realm (with the credential header configured for the realm's host, if any) and retrying once.
 * A registry using Basic auth gets the configured header for its host on every request.
 */
import { SslmemError } from "../core/errors.ts";
import type { SourceContext } from "./context.ts";
import { hostMatches } from "./host-policy.ts";
import { failForStatus, readJson } from "./source-failure.ts";

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

/** `Bearer realm="…",service="…"` → its parameters (quoted values may hold commas). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  if (!m) return { scheme: "", params };
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

export interface RegistryRequest {
  method?: "GET" | "HEAD" | "POST" | "PUT";
  accept?: string;
  body?: Uint8Array;
  contentType?: string;
  /** Statuses returned to the caller instead of becoming errors (e.g. 404 on a HEAD). */
  pass?: readonly number[];
}

export class RegistryClient {
  readonly base: URL;
  #token: string | undefined;

  constructor(
    private readonly ctx: SourceContext,
    readonly registry: string,
    private readonly repository: string,
    /** The access a bearer token is asked for: reading sources, or also writing (report referrers). */
    private readonly access: "pull" | "pull,push" = "pull",
  ) {
    const probe = new URL(`https://${registry}/`);
    const plain = ctx.ociPlainHttp.some((p) => hostMatches(p, probe) || hostMatches(p, new URL(`http://${registry}/`)));
    this.base = new URL(`${plain ? "http" : "https"}://${registry}/`);
  }

  get where(): string {
    return `the registry ${this.registry}`;
  }

  /** GET with the token flow; non-2xx answers become `source_*` errors naming `what`. */
  get(path: string, accept: string, what: string): Promise<Response> {
    return this.request(`/v2/${this.repository}/${path}`, { accept }, what);
  }

  /** Any request with the token flow; `path` is absolute (`/v2/…`) or a URL the registry returned. */
  async request(path: string, r: RegistryRequest, what: string): Promise<Response> {
    const url = new URL(path, this.base);
    let res = await this.#send(url, r);
    if (res.status === 401 && this.#token === undefined) {
      const challenge = parseChallenge(res.headers.get("www-authenticate") ?? "");
      await res.body?.cancel().catch(() => undefined);
      if (challenge.scheme === "bearer" && challenge.params.realm) {
        this.#token = await this.#fetchToken(challenge.params);
        res = await this.#send(url, r);
      } else {
        throw new SslmemError("source_auth_failed", `${this.where} requires credentials for ${what}; configure a header for it (SSLMEM_SOURCE_CREDENTIALS)`, { status: 401 });
      }
    }
    if (!res.ok && !r.pass?.includes(res.status)) return failForStatus(res, what, this.where);
    return res;
  }

  #send(url: URL, r: RegistryRequest): Promise<Response> {
    return this.ctx.fetch(url, {
      method: r.method ?? "GET",
      headers: {
        ...(r.accept ? { accept: r.accept } : {}),
        ...(r.contentType ? { "content-type": r.contentType } : {}),
        ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      },
      ...(r.body ? { body: r.body } : {}),
    });
  }

  async #fetchToken(params: Record<string, string>): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(params.realm);
    } catch {
      throw new SslmemError("source_auth_failed", `${this.where} named an invalid token realm`);
    }
    if (params.service) realm.searchParams.set("service", params.service);
    // Our own scope, not the challenge's: a first challenge (on a HEAD) asks for pull only.
    realm.searchParams.set("scope", `repository:${this.repository}:${this.access}`);
    const res = await this.ctx.fetch(realm, { headers: { accept: "application/json" } });
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => undefined);
      throw new SslmemError("source_auth_failed", `the token service of ${this.where} refused to issue a pull token; check the credentials configured for ${realm.host}`, {
        status: res.status,
      });
    }
    if (!res.ok) return failForStatus(res, "a pull token", `the token service of ${this.where}`);
    const { json } = await readJson(res, `the token service of ${this.where}`, 256 * 1024);
    const token = (json as { token?: unknown; access_token?: unknown }).token ?? (json as { access_token?: unknown }).access_token;
    if (typeof token !== "string" || token === "") throw new SslmemError("source_auth_failed", `the token service of ${this.where} sent no token`);
    return token;
  }
}
