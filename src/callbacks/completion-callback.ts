/**
 * Signed completion callbacks: an audit submitted with `callbackUrl` gets an outbox row at
 * submission, written in the audit's own insert (src/outbox/dispatcher.ts delivers it once the
 * audit has ended, retried with backoff, surviving restarts). Each attempt POSTs the audit's
 * final state and summary, signed per the Standard Webhooks spec (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, with the tenant's secret), through the same guarded
 * fetch as model references (allowlist, address checks, redirects re-checked). What is recorded of an attempt names the host only: a URL's
 * query may hold a token.
 */
import { Webhook } from "standardwebhooks";
import type { CallbacksConfig, SourcesConfig } from "../config.ts";
import { SslmemError } from "../core/errors.ts";
import type { DeliverySender, SendResult } from "../outbox/dispatcher.ts";
import { createGuardedFetch, type Resolver } from "../sources/guarded-fetch.ts";
import { AddressPolicy, assertHostAllowed, parseHostPattern, type HostPolicy } from "../sources/host-policy.ts";
import type { AuditDeliveryInput } from "../store/outbox-types.ts";
import { completionMessage } from "./callback-payload.ts";

export const CALLBACK_KIND = "callback";

export interface CallbackConfig {
  callbacks: CallbacksConfig;
  sources: SourcesConfig;
}

function policyOf(sources: SourcesConfig): HostPolicy {
  return { allow: sources.allow.map(parseHostPattern), addresses: new AddressPolicy(sources.allowAddresses) };
}

/** Refuses, at submission, a callback that could never be delivered: no secret, or a host off the allowlist. */
export function assertCallbackAllowed(config: CallbackConfig, tenant: string, callbackUrl: string): void {
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

/** The callback's outbox row, written with the audit (AuditService.create's `deliveries`). */
export function completionCallback(callbackUrl: string): AuditDeliveryInput {
  return { kind: CALLBACK_KIND, payload: { url: callbackUrl } };
}

const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;

/** The outbox sender of completion callbacks: one signed POST per attempt. */
export function callbackSender(config: CallbackConfig, o: { resolve?: Resolver } = {}): DeliverySender {
  const fetch = createGuardedFetch({ policy: policyOf(config.sources), timeoutMs: config.sources.timeoutMs, ...(o.resolve ? { resolve: o.resolve } : {}) });
  return {
    async send(delivery, audit): Promise<SendResult> {
      const url = typeof delivery.payload.url === "string" ? delivery.payload.url : "";
      const secret = config.callbacks.secrets[delivery.tenant];
      if (secret === undefined) return { outcome: "failed", error: "the tenant has no callback secret any more", record: {} };
      let host: string;
      try {
        host = new URL(url).host;
      } catch {
        return { outcome: "failed", error: "the callback URL is not a URL", record: {} };
      }
      const message = completionMessage(audit, new Date());
      // Signed anew per attempt: the timestamp says when this attempt was sent (receivers bound its age).
      const timestamp = new Date();
      const headers = {
        "content-type": "application/json",
        "webhook-id": message.id,
        "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
        "webhook-signature": new Webhook(secret).sign(message.id, timestamp, message.body),
      };
      try {
        const res = await fetch(url, { method: "POST", headers, body: message.body });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) return { outcome: "delivered", record: { host, status: res.status } };
        const error = `status ${res.status}`;
        return RETRYABLE(res.status) ? { outcome: "retry", error, record: { host, status: res.status } } : { outcome: "failed", error, record: { host, status: res.status } };
      } catch (e) {
        const code = e instanceof SslmemError ? e.code : "unreachable";
        // A refused address will be refused again; a network failure may pass later.
        return code === "source_not_allowed" ? { outcome: "failed", error: code, record: { host } } : { outcome: "retry", error: code, record: { host } };
      }
    },
  };
}
