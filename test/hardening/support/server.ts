/**
 * The real service for the hardening suite: src/server.ts with the engine's executor (ONNX
 * Runtime on the CPU), SQLite and blobs in a private temp dir, served on 127.0.0.1:0, with small
 * limits so oversized inputs are cheap to send. Two tenants: alice (the attacker, usually) and bob.
 */
import { bearerFetch } from "../../helpers/serve-app.ts";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig, type Config } from "../../../src/config.ts";
import { engineExecutorFactory } from "../../../src/jobs/execute-audit.ts";
import { startServer, type RunningServer } from "../../../src/server.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** The limits the cases are written against (CASES.md quotes them). */
export const HARDENING_LIMITS = {
  maxBlobBytes: 2 * MiB,
  maxJsonBytes: 64 * KiB,
  maxConfigPartBytes: 8 * KiB,
  maxViews: 64,
  maxArchiveEntries: 64,
} as const;

export interface HardeningServer {
  url: string;
  /** The data directory (SQLite file, blobs, engine temp files): must never appear in a response. */
  dir: string;
  config: Config;
  running: RunningServer;
  tokens: { alice: string; bob: string };
  /** fetch with alice's token unless `token` says otherwise (null: no Authorization header). */
  request(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  close(): Promise<void>;
}

export async function startHardeningServer(): Promise<HardeningServer> {
  const dir = mkdtempSync(join(tmpdir(), "sslmem-hardening-"));
  const config = loadConfig(
    {},
    {
      dataDir: dir,
      host: "127.0.0.1",
      port: 0,
      providers: ["cpu"],
      threads: 1,
      // Nothing runs at close; don't wait 10 s for fetch's idle keep-alive sockets.
      shutdownGraceMs: 200,
      limits: {
        maxBlobBytes: HARDENING_LIMITS.maxBlobBytes,
        maxJsonBytes: HARDENING_LIMITS.maxJsonBytes,
        maxConfigPartBytes: HARDENING_LIMITS.maxConfigPartBytes,
        maxViews: HARDENING_LIMITS.maxViews,
        maxQueue: 1000,
        maxQueuePerTenant: 1000,
        maxConcurrentUploadsPerTenant: 8,
      },
      ingest: { maxArchiveEntries: HARDENING_LIMITS.maxArchiveEntries },
    },
  );
  mkdirSync(join(config.dataDir, "tmp"), { recursive: true });
  const running = await startServer(config, {
    executor: (deps) => engineExecutorFactory(deps),
    logger: pino({ level: "silent" }),
    handleSignals: false,
  });
  const tokens = { alice: (await running.store.createToken("alice")).token, bob: (await running.store.createToken("bob")).token };
  return {
    url: running.url,
    dir,
    config,
    running,
    tokens,
    request: bearerFetch(running.url, tokens),
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
