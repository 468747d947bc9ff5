/**
 * The per-tenant share of the queue: one tenant may not hold every queued slot, so a burst from
 * one tenant cannot push every other tenant into `queue_full`. Checked by both stores in the
 * transaction that inserts the audit (next to the global `maxQueued`).
 */
import { SslmemError } from "../core/errors.ts";

export function tenantQueueFull(maxQueuedPerTenant: number): SslmemError {
  return new SslmemError("queue_full", `you already have ${maxQueuedPerTenant} audits waiting (this server's share per tenant); retry when one has started`, {
    maxQueuedPerTenant,
  });
}
