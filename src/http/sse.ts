/**
 * The event stream of one audit (Server-Sent Events). Events come from the store, so a client
 * that reconnects with `Last-Event-ID` resumes exactly after the last event it saw, whichever
 * process wrote them. The stream ends after the audit's terminal `state` event.
 */
import type { AuditNotifier } from "../jobs/notifier.ts";
import { TERMINAL_STATES, type AuditState } from "../core/audit-states.ts";
import type { AuditReader, EventLog, StoredEvent } from "../store/types.ts";

export interface AuditEventStreamOptions {
  store: Pick<AuditReader, "getAudit"> & Pick<EventLog, "readEvents">;
  notifier: AuditNotifier;
  tenant: string;
  auditId: string;
  /** Resume after this seq (Last-Event-ID); 0 = from the start. */
  afterSeq: number;
  heartbeatMs: number;
  pollMs: number;
  /** Aborted on client disconnect or server shutdown. */
  signal: AbortSignal;
  now?: () => number;
}

/** Reconnection delay suggested to EventSource clients. */
export const SSE_RETRY_MS = 3000;
const PAGE = 200;

export function formatEvent(e: StoredEvent): string {
  const type = e.type.replace(/[\r\n]/g, " ");
  return `id: ${e.seq}\nevent: ${type}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

export function isTerminalEvent(e: StoredEvent): boolean {
  return e.type === "state" && TERMINAL_STATES.includes(e.data.state as AuditState);
}

export async function* auditEventStream(o: AuditEventStreamOptions): AsyncGenerator<string> {
  const now = o.now ?? Date.now;
  let last = o.afterSeq;
  let lastWrite = now();
  let terminalPolls = 0;
  yield `retry: ${SSE_RETRY_MS}\n\n`;
  while (!o.signal.aborted) {
    const events = await o.store.readEvents(o.auditId, last, PAGE);
    for (const e of events) {
      yield formatEvent(e);
      last = e.seq;
      lastWrite = now();
      if (isTerminalEvent(e)) return;
    }
    if (events.length === PAGE) continue;
    if (events.length === 0) {
      const audit = await o.store.getAudit(o.tenant, o.auditId);
      if (!audit) return; // deleted
      if (TERMINAL_STATES.includes(audit.state)) {
        // The runner writes the terminal event just after the state: give it one short poll, so
        // a stream never ends without it; then end (the client had it already: resumed after it).
        if (++terminalPolls >= 2) return;
        await o.notifier.wait(o.auditId, Math.min(o.pollMs, 100), o.signal);
        continue;
      }
    }
    const idle = now() - lastWrite;
    if (idle >= o.heartbeatMs) {
      yield ": keep-alive\n\n";
      lastWrite = now();
    }
    await o.notifier.wait(o.auditId, Math.max(1, Math.min(o.pollMs, o.heartbeatMs - (now() - lastWrite))), o.signal);
  }
}
