/**
 * Signed completion callbacks: an audit submitted with `callbackUrl` is watched until it reaches
 * a final state, then its summary is POSTed to the URL, signed per the Standard Webhooks spec
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`, with the tenant's secret), through the
 * same guarded fetch as model references (allowlist, address checks, redirects re-checked).
 * A failed delivery (network error, 408, 429, 5xx) is retried with doubling pauses; every attempt
 * is a log line (`callback`) naming the host only — a URL's query may hold a token. (Not an audit
 * event: the terminal `state` event is an audit's last, see src/audits/audit-service.ts.)
 *
 * Limitation: the watch lives in the process that accepted the audit; a restart of that process
 * before the audit ends loses the callback (a durable outbox in the store would lift this).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import type { CallbacksConfig, SourcesConfig } from "../config.ts";
import { SslmemError } from "../core/errors.ts";
import { createGuardedFetch, type Resolver, type SourceFetch } from "../sources/guarded-fetch.ts";
import { AddressPolicy, assertHostAllowed, parseHostPattern, type HostPolicy } from "../sources/host-policy.ts";
import { TERMINAL_STATES } from "../core/audit-states.ts";
import type { AuditReader } from "../store/types.ts";
import { completionMessage } from "./callback-payload.ts";

export interface CallbackServices {
  config: { callbacks: CallbacksConfig; sources: SourcesConfig; ssePollMs: number };
  store: Pick<AuditReader, "getAuditInternal">;
  notifier: { wait(auditId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> };
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Aborted at shutdown: watches end (their callbacks are lost, see above). */
  shutdown: AbortSignal;
  /** Tests: DNS answers under their control. */
  resolve?: Resolver;
}

function policyOf(sources: SourcesConfig): HostPolicy {
  return { allow: sources.allow.map(parseHostPattern), addresses: new AddressPolicy(sources.allowAddresses) };
}

/** Refuses, at submission, a callback that could never be delivered: no secret, or a host off the allowlist. */
export function assertCallbackAllowed(config: CallbackServices["config"], tenant: string, callbackUrl: string): void {
  const field = (message: string) => ({ errors: [{ path: "callbackUrl", message, location: "body" }] });
  if (config.callbacks.secrets[tenant] === undefined) {
    const message = "this tenant has no callback secret; ask the operator to set one (SSLMEM_CALLBACK_SECRETS)";
    throw new SslmemError("invalid_config", message, field(message));
  }
  try {
    assertHostAllowed(policyOf(config.sources), new URL(callbackUrl));
  } catch (e) {
    if (e instanceof SslmemError) throw new SslmemError(e.code, `callbackUrl: ${e.message}`, field(e.message));
    throw e;
  }
}

const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;

/** POSTs one signed message, retrying transient failures; true when the receiver took it (2xx). */
export async function deliverCallback(
  fetch: SourceFetch,
  url: string,
  message: { id: string; body: string },
  secret: string,
  o: { attempts: number; backoffMs: number; signal?: AbortSignal; record: (data: Record<string, string | number | boolean>) => Promise<void> },
): Promise<boolean> {
  const webhook = new Webhook(secret);
  const host = new URL(url).host;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    // Signed anew per attempt: the timestamp says when this attempt was sent (receivers bound its age).
    const timestamp = new Date();
    const headers = {
      "content-type": "application/json",
      "webhook-id": message.id,
      "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
      "webhook-signature": webhook.sign(message.id, timestamp, message.body),
    };
    let outcome: { status?: number; error?: string };
    try {
      const res = await fetch(url, { method: "POST", headers, body: message.body });
      await res.body?.cancel().catch(() => undefined);
      outcome = { status: res.status };
    } catch (e) {
      outcome = { error: e instanceof SslmemError ? e.code : "unreachable" };
    }
    const delivered = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
    await o.record({ host, attempt, delivered, ...(outcome.status !== undefined ? { status: outcome.status } : {}), ...(outcome.error ? { error: outcome.error } : {}) });
    if (delivered) return true;
    const permanent = outcome.status !== undefined && !RETRYABLE(outcome.status);
    if (permanent || outcome.error === "source_not_allowed" || attempt === o.attempts || o.signal?.aborted) return false;
    await sleep(o.backoffMs * 2 ** (attempt - 1), undefined, { signal: o.signal }).catch(() => undefined);
  }
  return false;
}

/** Starts the watch of one audit; returns at once. The delivery's outcome is in the log. */
export function startCompletionCallback(s: CallbackServices, tenant: string, auditId: string, callbackUrl: string): Promise<void> {
  const secret = s.config.callbacks.secrets[tenant];
  if (secret === undefined) return Promise.resolve(); // refused at submission; nothing to sign with
  const fetch = createGuardedFetch({ policy: policyOf(s.config.sources), timeoutMs: s.config.sources.timeoutMs, ...(s.resolve ? { resolve: s.resolve } : {}) });
  const run = async () => {
    for (;;) {
      if (s.shutdown.aborted) return;
      const audit = await s.store.getAuditInternal(auditId);
      if (audit === null) return; // deleted
      if (TERMINAL_STATES.includes(audit.state)) {
        await deliverCallback(fetch, callbackUrl, completionMessage(audit, new Date()), secret, {
          attempts: s.config.callbacks.attempts,
          backoffMs: s.config.callbacks.backoffMs,
          signal: s.shutdown,
          record: async (data) => s.logger.info({ auditId, callback: data }, "completion callback attempt"),
        });
        return;
      }
      await s.notifier.wait(auditId, s.config.ssePollMs, s.shutdown);
    }
  };
  return run().catch((err: unknown) => s.logger.warn({ auditId, err }, "the completion callback could not be delivered"));
}
