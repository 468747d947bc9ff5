/**
 * The service assembled in-process with the REAL engine (not the test executor): SQLite file and
 * blob directory in a temp dir, the in-process runner, the engine on a worker thread (default) or
 * inline, and an optional store wrapper for fault injection. Logs are captured as JSON lines.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { loadConfig, type Config, type ConfigOverrides } from "../../src/config.ts";
import { engineExecutorFactory } from "../../src/jobs/execute-audit.ts";
import { InProcessRunner } from "../../src/jobs/in-process-runner.ts";
import type { AuditExecutor } from "../../src/jobs/types.ts";
import { serveApp } from "./serve-app.ts";
import { WorkerEngineExecutor, workerEngineExecutorFactory } from "../../src/jobs/worker-executor.ts";
import { FileBlobStore } from "../../src/store/blob-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { Store } from "../../src/store/types.ts";
import { ServiceClient } from "./service-client.ts";

export interface EngineServerOptions {
  engineThread?: "worker" | "main";
  config?: ConfigOverrides;
  wrapStore?: (store: SqliteStore) => Store;
  dir?: string;
}

export interface EngineServer {
  url: string;
  dir: string;
  config: Config;
  store: SqliteStore;
  blobs: FileBlobStore;
  runner: InProcessRunner;
  executor: AuditExecutor;
  /** Raw JSON log lines. */
  logs: string[];
  alice: ServiceClient;
  bob: ServiceClient;
  anonymous: ServiceClient;
  tokens: { alice: string; bob: string };
  close(options?: { keepDir?: boolean }): Promise<void>;
}

export function captureLogger(lines: string[], level = "debug"): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return pino({ level, base: { service: "sslmem" } }, sink);
}

export async function startEngineServer(options: EngineServerOptions = {}): Promise<EngineServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "sslmem-engine-"));
  const config = loadConfig({}, { dataDir: dir, port: 0, providers: ["cpu"], threads: 1, ...options.config });
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL" });
  const blobs = await FileBlobStore.open(join(dir, "blobs"));
  const wrapped = options.wrapStore ? options.wrapStore(store) : store;
  const logs: string[] = [];
  const logger = captureLogger(logs);
  const deps = { config, store: wrapped, blobs, logger };
  const executor = (options.engineThread ?? "worker") === "worker" ? workerEngineExecutorFactory(deps) : engineExecutorFactory(deps);
  const served = await serveApp({ config, store: wrapped, tokenStore: store, blobs, executor, logger });
  const { url, runner, tokens } = served;
  let closed = false;
  return {
    url,
    dir,
    config,
    store,
    blobs,
    runner,
    executor,
    logs,
    tokens,
    alice: new ServiceClient(url, tokens.alice),
    bob: new ServiceClient(url, tokens.bob),
    anonymous: new ServiceClient(url, null),
    async close({ keepDir = false } = {}) {
      if (closed) return;
      closed = true;
      await served.stop();
      if (executor instanceof WorkerEngineExecutor) await executor.close();
      await store.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Uploads target, reference and candidates (bytes) with `client`; returns the digests. */
export async function uploadAuditInputs(
  client: ServiceClient,
  inputs: { target: Uint8Array; reference: Uint8Array; candidates: Uint8Array; controls?: Uint8Array },
): Promise<{ target: string; reference: string; candidates: string; controls?: string }> {
  return {
    target: await client.putBlob(inputs.target),
    reference: await client.putBlob(inputs.reference),
    candidates: await client.putBlob(inputs.candidates),
    ...(inputs.controls ? { controls: await client.putBlob(inputs.controls) } : {}),
  };
}
