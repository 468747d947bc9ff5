/**
 * Builds the real service for a test: SQLite file and blob directory in a temp dir, the
 * in-process runner with a TestExecutor, the app served by @hono/node-server on 127.0.0.1:0.
 * Every harness is independent (no shared state between tests) and `close()` releases it all.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { pino, type Logger } from "pino";
import { loadConfig, type Config, type ConfigOverrides } from "../../src/config.ts";
import { InProcessRunner } from "../../src/jobs/in-process-runner.ts";
import { AuditNotifier } from "../../src/jobs/notifier.ts";
import { FileBlobStore } from "../../src/store/blob-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import type { Store } from "../../src/store/types.ts";
import { TestExecutor, type TestExecutorOptions } from "../jobs/test-executor.ts";
import { bearerFetch, serveApp } from "../helpers/serve-app.ts";
import { pollUntil } from "../helpers/poll.ts";
import type { EventLoopLagSource } from "../../src/http/event-loop.ts";

export const digestOf = (bytes: string | Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export interface HarnessOptions {
  config?: ConfigOverrides;
  executor?: TestExecutorOptions;
  /** Wraps the real store (fault injection). */
  wrapStore?: (store: Store) => Store;
  /** Reuse a data directory (restart tests). */
  dir?: string;
  /** Start the runner (default true). */
  startRunner?: boolean;
  /** The event-loop lag the app sees (default: the real loop's). */
  eventLoop?: EventLoopLagSource;
}

export interface Harness {
  url: string;
  dir: string;
  config: Config;
  store: SqliteStore;
  blobs: FileBlobStore;
  runner: InProcessRunner;
  executor: TestExecutor;
  notifier: AuditNotifier;
  logs: string[];
  tokens: { alice: string; bob: string };
  /** fetch against the server; `token` adds the bearer header (null: none). */
  request(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** Stops everything; keeps the directory when `keepDir`. */
  close(options?: { keepDir?: boolean }): Promise<void>;
}

function memoryLogger(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return pino({ level: "debug" }, sink);
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "sslmem-http-"));
  const config = loadConfig({}, { dataDir: dir, port: 0, ...options.config });
  const store = await SqliteStore.open({ path: join(dir, "sslmem.db"), synchronous: "NORMAL" });
  const blobs = await FileBlobStore.open(join(dir, "blobs"));
  const wrapped = options.wrapStore ? options.wrapStore(store) : store;
  const logs: string[] = [];
  const logger = memoryLogger(logs);
  const executor = new TestExecutor(store, options.executor);
  const served = await serveApp({ config, store: wrapped, tokenStore: store, blobs, executor, logger, startRunner: options.startRunner, ...(options.eventLoop ? { eventLoop: options.eventLoop } : {}) });
  let closed = false;
  return {
    url: served.url,
    dir,
    config,
    store,
    blobs,
    runner: served.runner,
    executor,
    notifier: served.notifier,
    logs,
    tokens: served.tokens,
    request: bearerFetch(served.url, served.tokens),
    async close({ keepDir = false } = {}) {
      if (closed) return;
      closed = true;
      await served.stop();
      await store.close();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function uploadBlob(h: Harness, bytes: string | Uint8Array, token?: string): Promise<string> {
  const digest = digestOf(bytes);
  const res = await h.request(`/v1/blobs/${digest}`, {
    method: "PUT",
    body: bytes,
    headers: { "content-type": "application/octet-stream" },
    ...(token !== undefined ? { token } : {}),
  });
  const text = await res.text();
  assert.ok(res.status === 201 || res.status === 200, `upload answered ${res.status}: ${text}`);
  return digest;
}

export interface AuditInputsBytes {
  target: string;
  reference: string;
  candidates: string;
  controls?: string;
}

/** Uploads three small blobs and returns their digests (distinct per `tag`). */
export async function uploadInputs(h: Harness, tag = "a", token?: string): Promise<AuditInputsBytes> {
  return {
    target: await uploadBlob(h, `target-model-${tag}`, token),
    reference: await uploadBlob(h, `reference-model-${tag}`, token),
    candidates: await uploadBlob(h, `candidate-archive-${tag}`, token),
  };
}

export async function submitJson(h: Harness, body: unknown, init: { token?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return h.request("/v1/audits", {
    method: "POST",
    headers: { "content-type": "application/json", ...init.headers },
    body: JSON.stringify(body),
    ...(init.token !== undefined ? { token: init.token } : {}),
  });
}

/** Submits an audit and returns its id (asserting 202). */
export async function createAudit(h: Harness, body: Record<string, unknown> = {}, token?: string): Promise<string> {
  const inputs = await uploadInputs(h, "a", token);
  const res = await submitJson(h, { ...inputs, ...body }, token !== undefined ? { token } : {});
  const json = (await res.json()) as { id: string };
  assert.equal(res.status, 202, JSON.stringify(json));
  return json.id;
}

/** Polls the store (not the clock) until the audit reaches one of `states`. */
export async function waitForState(store: Store, id: string, states: readonly string[]): Promise<string> {
  return pollUntil(async () => {
    const audit = await store.getAuditInternal(id);
    return audit && states.includes(audit.state) ? audit.state : undefined;
  }, { what: `audit ${id} to reach ${states.join("|")}` });
}

export async function problemOf(res: Response): Promise<Record<string, unknown>> {
  assert.equal(res.headers.get("content-type"), "application/problem+json", `status ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}
