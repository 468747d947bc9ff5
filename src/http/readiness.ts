/** The API's readiness: what must hold for this replica to take requests. */
import { conditionProbe, storeProbe, type Probe } from "../process/health.ts";
import type { AppServices } from "./context.ts";

export function readinessProbes(s: AppServices): Probe[] {
  return [
    conditionProbe("accepting", true, () => !s.shutdown.aborted, "shutting down"),
    storeProbe(s.store),
    conditionProbe("runner", true, () => s.runner.isAlive(), "job runner is not running"),
    conditionProbe("event-loop", false, () => !(s.eventLoop.lag().p99 > 1), "event loop p99 lag above 1 s"),
  ];
}
