/**
 * Health probes as data: each has a name, whether it is critical, a timeout and a check.
 * Readiness is derived — ready when every critical probe passes — so adding a check is adding
 * an entry, not editing the endpoint. Failure details go to the log, not to the response.
 */
import type { Logger } from "pino";
import type { AppServices } from "./context.ts";

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

async function runProbe(probe: Probe, logger: Logger): Promise<ProbeResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), probe.timeoutMs)));
  let detail: string | undefined;
  try {
    const outcome = await Promise.race([Promise.resolve().then(() => probe.run()), timeout]);
    if (outcome === "timeout") detail = `no answer within ${probe.timeoutMs} ms`;
  } catch (err) {
    detail = "check failed";
    logger.warn({ probe: probe.name, err }, "health probe failed");
  } finally {
    clearTimeout(timer);
  }
  const durationMs = Math.round((performance.now() - started) * 10) / 10;
  return { name: probe.name, critical: probe.critical, status: detail ? "fail" : "pass", durationMs, ...(detail ? { detail } : {}) };
}

export async function runProbes(probes: readonly Probe[], logger: Logger): Promise<Readiness> {
  const checks = await Promise.all(probes.map((p) => runProbe(p, logger)));
  const ready = checks.every((c) => !c.critical || c.status === "pass");
  return { status: ready ? "pass" : "fail", checks };
}

export function readinessProbes(s: AppServices): Probe[] {
  return [
    {
      name: "accepting",
      critical: true,
      timeoutMs: 100,
      run: () => {
        if (s.shutdown.aborted) throw new Error("shutting down");
      },
    },
    { name: "store", critical: true, timeoutMs: 2000, run: () => s.store.healthCheck() },
    {
      name: "runner",
      critical: true,
      timeoutMs: 100,
      run: () => {
        if (!s.runner.isAlive()) throw new Error("job runner is not running");
      },
    },
    {
      name: "event-loop",
      critical: false,
      timeoutMs: 100,
      run: () => {
        if (s.eventLoop.lag().p99 > 1) throw new Error("event loop p99 lag above 1 s");
      },
    },
  ];
}
