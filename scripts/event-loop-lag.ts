/**
 * Event-loop responsiveness of `sslmem serve` while an audit runs on the real engine.
 * Starts the server as a child process (so the sampling client does not share its loop), uploads
 * two encoders and a candidate set, submits one audit, and while it runs times GET /livez every
 * `--interval` ms from outside. Prints the /livez latency quantiles and the server's own
 * sslmem_event_loop_lag_seconds from /metrics.
 *
 *   node --import tsx scripts/event-loop-lag.ts [--engine-thread worker|main] [--encoder resnet18|tiny]
 *       [--size 64] [--points 24] [--views 4] [--threads 1]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { benchEncoder, RESNET18_LIKE } from "../bench/encoders.ts";
import { randomNpy, tinyEncoderPair } from "../test/helpers/engine-inputs.ts";
import { createTokenIn, spawnServe } from "../test/helpers/serve-process.ts";
import { ServiceClient, TERMINAL } from "../test/helpers/service-client.ts";

const { values } = parseArgs({
  options: {
    "engine-thread": { type: "string", default: "worker" },
    encoder: { type: "string", default: "resnet18" },
    size: { type: "string", default: "64" },
    points: { type: "string", default: "24" },
    views: { type: "string", default: "4" },
    threads: { type: "string", default: "1" },
    interval: { type: "string", default: "20" },
    "max-seconds": { type: "string", default: "300" },
  },
});

const size = Number(values.size);
const points = Number(values.points);
const intervalMs = Number(values.interval);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const models =
  values.encoder === "tiny"
    ? tinyEncoderPair(size)
    : { target: benchEncoder({ ...RESNET18_LIKE, size, seed: 1 }), reference: benchEncoder({ ...RESNET18_LIKE, size, seed: 2 }) };

const dir = mkdtempSync(join(tmpdir(), "sslmem-lag-"));
const token = await createTokenIn(dir, "lag");
const server = await spawnServe(dir, { SSLMEM_ENGINE_THREAD: values["engine-thread"]!, SSLMEM_THREADS: values.threads!, SSLMEM_LOG_LEVEL: "warn" });
try {
  const client = new ServiceClient(server.url, token);
  const inputs = {
    target: await client.putBlob(models.target),
    reference: await client.putBlob(models.reference),
    candidates: await client.putBlob(randomNpy(points, size, 3)),
  };
  const submitted = await client.submit({ ...inputs, config: { views: Number(values.views), seed: 1, batchSize: 8 } });
  if (submitted.status !== 202) throw new Error(`submit answered ${submitted.status}: ${JSON.stringify(submitted.body)}`);
  const id = submitted.body.id;

  const livez: number[] = [];
  let measuring = false;
  let state = "queued";
  let metricsLag = "";
  const started = performance.now();
  const deadline = started + Number(values["max-seconds"]) * 1000;
  let lastPoll = 0;
  while (!TERMINAL.includes(state) && performance.now() < deadline) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/livez`);
    await res.arrayBuffer();
    const ms = performance.now() - t0;
    if (measuring) livez.push(ms);
    if (t0 - lastPoll > 250) {
      lastPoll = t0;
      const a = await client.audit(id);
      state = a.state;
      measuring = a.state === "running";
      if (measuring) {
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        metricsLag = metrics.split("\n").filter((l) => l.startsWith("sslmem_event_loop_lag_seconds")).join("; ");
      }
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const seconds = (performance.now() - started) / 1000;
  livez.sort((a, b) => a - b);
  const fmt = (v: number) => v.toFixed(1);
  console.log(
    JSON.stringify(
      {
        engineThread: values["engine-thread"],
        encoder: `${values.encoder} ${size}x${size}`,
        points,
        views: Number(values.views),
        ortThreads: Number(values.threads),
        auditState: state,
        auditSeconds: Number(seconds.toFixed(1)),
        livezSamples: livez.length,
        livezMs: { p50: fmt(quantile(livez, 0.5)), p99: fmt(quantile(livez, 0.99)), max: fmt(livez[livez.length - 1] ?? NaN) },
        serverMetrics: metricsLag,
      },
      null,
      2,
    ),
  );
} finally {
  await server.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
