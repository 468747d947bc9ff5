/**
 * `npm run load`: a bounded load test of `sslmem serve` on loopback. It starts its own server (a
 * child process on 127.0.0.1 with a fresh data directory and the real engine with tiny encoders),
 * pre-uploads the inputs, then runs N concurrent clients. Each client submits one small audit
 * (JSON referencing its blobs) with an Idempotency-Key — twice at once, as a client that retries a
 * timed-out request would — retries on 429 (honouring Retry-After, capped), polls the audit until
 * it is terminal, and finally replays its submission.
 *
 * It reports p50/p99 latency of the submit and status calls and accepted vs 429, and checks the
 * invariants: every accepted audit ends terminal (none lost), every client's requests name one
 * audit (none duplicated), the store holds exactly the accepted audits, each with all its points,
 * and a replayed Idempotency-Key answers the same id. Exit code 1 when an invariant fails.
 * The run is bounded: at most --max-seconds, after which it stops and reports what it saw.
 *
 *   node --import tsx scripts/load-test.ts [--clients 100] [--tenants 4] [--points 4] [--views 2]
 *       [--max-queue 50] [--poll-ms 100] [--max-seconds 300] [--engine-thread worker|main]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { randomNpy, tinyEncoderPair } from "../test/helpers/engine-inputs.ts";
import { createTokenIn, spawnServe } from "../test/helpers/serve-process.ts";
import { ServiceClient, TERMINAL } from "../test/helpers/service-client.ts";

export interface LoadOptions {
  clients: number;
  tenants: number;
  /** Candidates per audit (16×16 random images). */
  points: number;
  views: number;
  /** SSLMEM_MAX_QUEUE of the server (small values exercise 429). */
  maxQueue: number;
  pollMs: number;
  maxSeconds: number;
  engineThread: "worker" | "main";
  /** Longest wait a client honours from Retry-After before resubmitting. */
  maxRetryWaitMs: number;
  /** Extra environment and node flags (e.g. --cpu-prof) of the server process. */
  serverEnv?: Record<string, string>;
  serverNodeArgs?: string[];
}

export const DEFAULT_LOAD: LoadOptions = {
  clients: 100,
  tenants: 4,
  points: 4,
  views: 2,
  maxQueue: 50,
  pollMs: 100,
  maxSeconds: 300,
  engineThread: "worker",
  maxRetryWaitMs: 500,
};

export interface Quantiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LoadReport {
  options: LoadOptions;
  seconds: number;
  submit: Quantiles & { accepted: number; replayed: number; rejected429: number; other: number };
  status: Quantiles;
  clientsAccepted: number;
  /** Highest queue depth /metrics showed during the run. */
  maxQueueDepth: number;
  serverEventLoopLag: { p99Ms: number; maxMs: number };
  auditsByState: Record<string, number>;
  /** Invariant violations; empty when the run is sound. */
  violations: string[];
  /** The store after the run: audits, distinct idempotency keys, audits missing points. */
  store: { audits: number; distinctKeys: number; incompleteSucceeded: number };
}

function quantiles(samples: number[]): Quantiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { count: s.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? NaN) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ClientOutcome {
  ids: Set<string>;
  final?: string;
  replayId?: string;
  error?: string;
}

export async function runLoadTest(partial: Partial<LoadOptions> = {}, log: (line: string) => void = () => {}): Promise<LoadReport> {
  const o: LoadOptions = { ...DEFAULT_LOAD, ...partial };
  const dir = mkdtempSync(join(tmpdir(), "sslmem-load-"));
  const tokens: string[] = [];
  for (let t = 0; t < o.tenants; t++) tokens.push(await createTokenIn(dir, `tenant-${t}`));
  const server = await spawnServe(dir, {
    SSLMEM_MAX_QUEUE: String(o.maxQueue),
    SSLMEM_QUEUE_RETRY_AFTER_SECONDS: "1",
    SSLMEM_ENGINE_THREAD: o.engineThread,
    SSLMEM_LOG_LEVEL: "warn",
    ...o.serverEnv,
  }, 30_000, o.serverNodeArgs);
  const submitMs: number[] = [];
  const statusMs: number[] = [];
  const counts = { accepted: 0, replayed: 0, rejected429: 0, other: 0 };
  const violations: string[] = [];
  const started = performance.now();
  const deadline = started + o.maxSeconds * 1000;
  try {
    // Setup (not measured): every tenant uploads the encoders and one candidate set per client.
    const pair = tinyEncoderPair();
    const clients = Array.from({ length: o.clients }, (_, i) => new ServiceClient(server.url, tokens[i % o.tenants]));
    const inputs: { target: string; reference: string; candidates: string }[] = [];
    for (let i = 0; i < o.clients; i++) {
      const c = clients[i];
      inputs.push({ target: await c.putBlob(pair.target), reference: await c.putBlob(pair.reference), candidates: await c.putBlob(randomNpy(o.points, 16, 1000 + i)) });
    }
    log(`load: ${o.clients} clients, ${o.tenants} tenants, ${o.points} points × ${2 * o.views} views per audit, queue limit ${o.maxQueue}`);

    const submitOnce = async (i: number): Promise<{ status: number; id?: string; retryAfterMs: number }> => {
      const t0 = performance.now();
      const r = await clients[i].submit({ ...inputs[i], config: { views: o.views, seed: i, batchSize: 4 } }, { "idempotency-key": `load-${i}` });
      submitMs.push(performance.now() - t0);
      if (r.status === 202) counts.accepted++;
      else if (r.status === 200) counts.replayed++;
      else if (r.status === 429) counts.rejected429++;
      else counts.other++;
      const retryAfterMs = Math.min(o.maxRetryWaitMs, Number(r.headers.get("retry-after") ?? "1") * 1000);
      return { status: r.status, id: r.status === 200 || r.status === 202 ? r.body.id : undefined, retryAfterMs };
    };

    const runClient = async (i: number): Promise<ClientOutcome> => {
      const out: ClientOutcome = { ids: new Set() };
      try {
        // The same request twice at once: both answers must name one audit.
        let id: string | undefined;
        while (id === undefined) {
          if (performance.now() > deadline) throw new Error("never accepted before the deadline");
          const pairOfAnswers = await Promise.all([submitOnce(i), submitOnce(i)]);
          for (const a of pairOfAnswers) if (a.id) out.ids.add(a.id);
          id = pairOfAnswers.find((a) => a.id)?.id;
          if (id === undefined) {
            const other = pairOfAnswers.find((a) => a.status !== 429);
            if (other) throw new Error(`submit answered ${other.status}`);
            await sleep(pairOfAnswers[0].retryAfterMs * (0.5 + Math.random()));
          }
        }
        for (;;) {
          if (performance.now() > deadline) throw new Error(`audit ${id} not terminal before the deadline`);
          const t0 = performance.now();
          const a = await clients[i].json<{ state: string }>(`/v1/audits/${id}`);
          statusMs.push(performance.now() - t0);
          if (a.status !== 200) throw new Error(`status of ${id} answered ${a.status}`);
          if (TERMINAL.includes(a.body.state)) {
            out.final = a.body.state;
            break;
          }
          await sleep(o.pollMs);
        }
        const replay = await submitOnce(i);
        out.replayId = replay.id;
      } catch (err) {
        out.error = (err as Error).message;
      }
      return out;
    };

    // The queue limit must hold under concurrency: sample the server's own queue depth.
    let maxQueueDepth = 0;
    /** The server's own event-loop lag (/metrics, 10 s windows): the worst p99 and max seen. */
    const serverLag = { p99Ms: 0, maxMs: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        const depth = Number(/^sslmem_audit_queue_depth (\d+)/m.exec(text)?.[1] ?? 0);
        maxQueueDepth = Math.max(maxQueueDepth, depth);
        const lagMax = Number(/^sslmem_event_loop_lag_seconds\{quantile="1"\} ([\d.e-]+)/m.exec(text)?.[1] ?? 0);
        const lagP99 = Number(/^sslmem_event_loop_lag_seconds\{quantile="0.99"\} ([\d.e-]+)/m.exec(text)?.[1] ?? 0);
        serverLag.maxMs = Math.max(serverLag.maxMs, Math.round(lagMax * 1e4) / 10);
        serverLag.p99Ms = Math.max(serverLag.p99Ms, Math.round(lagP99 * 1e4) / 10);
        await sleep(20);
      }
    })();
    const outcomes = await Promise.all(clients.map((_, i) => runClient(i)));
    sampling = false;
    await sampler;
    const seconds = (performance.now() - started) / 1000;
    if (maxQueueDepth > o.maxQueue) violations.push(`the queue reached ${maxQueueDepth} audits (limit ${o.maxQueue})`);

    const auditsByState: Record<string, number> = {};
    const accepted = new Set<string>();
    outcomes.forEach((out, i) => {
      if (out.error) violations.push(`client ${i}: ${out.error}`);
      if (out.ids.size > 1) violations.push(`client ${i}: one request created ${out.ids.size} audits`);
      const [id] = out.ids;
      if (id === undefined) return;
      accepted.add(id);
      if (out.final) auditsByState[out.final] = (auditsByState[out.final] ?? 0) + 1;
      else violations.push(`client ${i}: audit ${id} lost (never terminal)`);
      if (out.replayId !== id) violations.push(`client ${i}: replay answered ${out.replayId ?? "no id"} instead of ${id}`);
    });

    // The store's view, read from the file: exactly the accepted audits, each complete.
    const db = new Database(join(dir, "sslmem.db"), { readonly: true });
    let store: LoadReport["store"];
    try {
      const row = db.prepare("SELECT count(*) AS audits, count(DISTINCT tenant || ' ' || idempotency_key) AS keys FROM audits").get() as { audits: number; keys: number };
      const incomplete = db
        .prepare(
          `SELECT count(*) AS n FROM audits a WHERE a.state = 'succeeded'
             AND (SELECT count(*) FROM audit_results r WHERE r.audit_id = a.id) <> ?`,
        )
        .get(o.points) as { n: number };
      const ids = (db.prepare("SELECT id FROM audits").pluck().all() as string[]).sort();
      store = { audits: row.audits, distinctKeys: row.keys, incompleteSucceeded: incomplete.n };
      if (row.audits !== accepted.size) violations.push(`the store holds ${row.audits} audits but ${accepted.size} were accepted`);
      if (row.keys !== row.audits) violations.push("two audits share an idempotency key");
      if (incomplete.n > 0) violations.push(`${incomplete.n} succeeded audits lack points`);
      if (ids.join() !== [...accepted].sort().join()) violations.push("the stored audit ids differ from the accepted ids");
    } finally {
      db.close();
    }
    return {
      options: o,
      seconds: Math.round(seconds * 10) / 10,
      submit: { ...quantiles(submitMs), ...counts },
      status: quantiles(statusMs),
      clientsAccepted: outcomes.filter((x) => x.ids.size > 0).length,
      maxQueueDepth,
      serverEventLoopLag: serverLag,
      auditsByState,
      violations,
      store,
    };
  } finally {
    await server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      clients: { type: "string" },
      tenants: { type: "string" },
      points: { type: "string" },
      views: { type: "string" },
      "max-queue": { type: "string" },
      "poll-ms": { type: "string" },
      "max-seconds": { type: "string" },
      "engine-thread": { type: "string" },
    },
  });
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const report = await runLoadTest(
    {
      clients: num(values.clients, DEFAULT_LOAD.clients),
      tenants: num(values.tenants, DEFAULT_LOAD.tenants),
      points: num(values.points, DEFAULT_LOAD.points),
      views: num(values.views, DEFAULT_LOAD.views),
      maxQueue: num(values["max-queue"], DEFAULT_LOAD.maxQueue),
      pollMs: num(values["poll-ms"], DEFAULT_LOAD.pollMs),
      maxSeconds: num(values["max-seconds"], DEFAULT_LOAD.maxSeconds),
      engineThread: values["engine-thread"] === "main" ? "main" : "worker",
    },
    (line) => process.stderr.write(line + "\n"),
  );
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.violations.length === 0 ? 0 : 1;
}
