/**
 * A real OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a
 * temporary storage folder, plus a pusher that speaks the OCI distribution API (monolithic blob
 * upload, manifest PUT) the way ORAS and KitOps do. scripts/ci-services.sh installs the package.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

export function registryAvailable(): boolean {
  return existsSync(REGISTRY_BINARY);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestRegistry {
  /** host:port, as in oci://<host>/… */
  host: string;
  url: string;
  stop(): Promise<void>;
}

/** `auth` adds a token-auth section (see startTokenRegistry in the auth test). */
export async function startRegistry(extraConfig = ""): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-registry-"));
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      extraConfig,
    ].join("\n"),
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      break;
    } catch {
      if (i > 100 || child.exitCode !== null) throw new Error(`docker-registry did not start: ${stderr.slice(0, 500)}`);
      await sleep(50);
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export interface PushedLayer {
  mediaType: string;
  data: Uint8Array;
  title?: string;
}

/** Pushes one blob with the monolithic upload (POST then PUT ?digest=). */
export async function pushBlob(registryUrl: string, repository: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256Digest(data);
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: "POST", headers });
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get("location")!, registryUrl);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", body: data, headers: { ...headers, "content-type": "application/octet-stream" } });
  if (put.status !== 201) throw new Error(`upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/**
 * Pushes an artifact manifest: `artifactType` (e.g. the CNCF ModelPack manifest type), a config
 * blob, and the layers with their titles. Returns the manifest digest.
 */
export async function pushArtifact(
  registryUrl: string,
  repository: string,
  tag: string,
  o: { artifactType?: string; configMediaType: string; config?: Uint8Array; layers: PushedLayer[] },
  headers: Record<string, string> = {},
): Promise<{ manifestDigest: string; manifest: Uint8Array }> {
  const config = o.config ?? new TextEncoder().encode("{}");
  const configDigest = await pushBlob(registryUrl, repository, config, headers);
  const layers = [];
  for (const l of o.layers) {
    const digest = await pushBlob(registryUrl, repository, l.data, headers);
    layers.push({
      mediaType: l.mediaType,
      digest,
      size: l.data.byteLength,
      ...(l.title ? { annotations: { "org.opencontainers.image.title": l.title } } : {}),
    });
  }
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      ...(o.artifactType ? { artifactType: o.artifactType } : {}),
      config: { mediaType: o.configMediaType, digest: configDigest, size: config.byteLength },
      layers,
    }),
  );
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { ...headers, "content-type": "application/vnd.oci.image.manifest.v1+json" },
  });
  if (res.status !== 201) throw new Error(`manifest: HTTP ${res.status} ${await res.text()}`);
  return { manifestDigest: sha256Digest(manifest), manifest };
}
