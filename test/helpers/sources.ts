/**
 * Source-resolution fixtures: a real blob store in a temp folder and a SourceContext built by the
 * production factory from a real configuration, with its fetch wrapped to record every URL asked
 * for (to prove what was and was not downloaded).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { loadConfig, type ConfigOverrides } from "../../src/config.ts";
import { openFileBlobStore, type FileBlobStore } from "../../src/store/blob-store.ts";
import { createSourceContext, type SourceContext } from "../../src/sources/context.ts";
import type { Resolver } from "../../src/sources/guarded-fetch.ts";
import { tempDir } from "./audit-inputs.ts";

export interface SourceFixture {
  ctx: SourceContext;
  blobs: FileBlobStore;
  /** Every URL the resolvers fetched, in order (redirect hops not included). */
  fetched: string[];
  dir: string;
}

export async function sourceFixture(
  sources: NonNullable<ConfigOverrides["sources"]>,
  o: { mode?: "service" | "local"; maxBytes?: number; resolve?: Resolver } = {},
): Promise<SourceFixture> {
  const dir = tempDir("sslmem-sources-");
  const blobs = await openFileBlobStore(join(dir, "blobs"));
  const config = loadConfig({}, { dataDir: dir, sources });
  const base = createSourceContext({
    blobs,
    cacheDir: join(dir, "source-cache"),
    maxBytes: o.maxBytes ?? config.limits.maxBlobBytes,
    sources: config.sources,
    mode: o.mode ?? "service",
    ...(o.resolve ? { resolve: o.resolve } : {}),
  });
  const fetched: string[] = [];
  const ctx: SourceContext = {
    ...base,
    fetch: (input, init) => {
      fetched.push(String(input instanceof Request ? input.url : input));
      return base.fetch(input, init);
    },
  };
  return { ctx, blobs, fetched, dir };
}

export interface LocalServer {
  url: string;
  host: string;
  port: number;
  /** Paths (with query) requested so far. */
  requests: string[];
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1:0 around a handler; records each request's path. */
export async function localServer(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<LocalServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    Promise.resolve(handler(req, res)).catch((e: unknown) => {
      res.statusCode = 500;
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
