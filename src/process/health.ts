/**
 * Health probes as data: each has a name, whether it is critical, a timeout and a check.
 * Readiness is derived — ready when every critical probe passes — so adding a check is adding
 * an entry, not editing the endpoint. Failure details go to the log, not to the response.
 * Both processes use this module: the API (src/http/readiness.ts) and `sslmem worker`
 * (src/worker/worker-health.ts), each with its own list of probes.
 */
import type { StoreHealth } from "../store/types.ts";
import { withinDeadline } from "./deadline.ts";

/** Where a failing probe's reason goes (a pino Logger is one). */
export interface ProbeLog {
  warn(fields: object, message: string): void;
}

export interface Probe {
  name: string;
  critical: boolean;
  timeoutMs: number;
  /** Resolves when healthy; throws (or rejects) when not. */
  run(): Promise<void> | void;
}

export interface ProbeResult {
  name: string;
  critical: boolean;
  status: "pass" | "fail";
  durationMs: number;
  /** A fixed, safe reason on failure. */
  detail?: string;
}

export interface Readiness {
  status: "pass" | "fail";
  checks: ProbeResult[];
}

async function runProbe(probe: Probe, logger: ProbeLog): Promise<ProbeResult> {
  const started = performance.now();
  let detail: string | undefined;
  try {
    const outcome = await withinDeadline(Promise.resolve().then(() => probe.run()), probe.timeoutMs);
    if (!outcome.inTime) detail = `no answer within ${probe.timeoutMs} ms`;
  } catch (err) {
    detail = "check failed";
    logger.warn({ probe: probe.name, err }, "health probe failed");
  }
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  return { name: probe.name, critical: probe.critical, status: detail ? "fail" : "pass", durationMs, ...(detail ? { detail } : {}) };
}

export async function runProbes(probes: readonly Probe[], logger: ProbeLog): Promise<Readiness> {
  const checks = await Promise.all(probes.map((p) => runProbe(p, logger)));
  const ready = checks.every((c) => !c.critical || c.status === "pass");
  return { status: ready ? "pass" : "fail", checks };
}

/** The store answers a write and a read (critical in both processes). */
export function storeProbe(store: StoreHealth): Probe {
  return { name: "store", critical: true, timeoutMs: 2000, run: () => store.healthCheck() };
}

/** A synchronous condition: passes while `ok()` holds, fails with `failure` otherwise. */
export function conditionProbe(name: string, critical: boolean, ok: () => boolean, failure: string): Probe {
  return {
    name,
    critical,
    timeoutMs: 100,
    run: () => {
      if (!ok()) throw new Error(failure);
    },
  };
}
