/**
 * One new version of a watched subject → at most one audit, through the same submission path as
 * POST /v1/audits (references resolved, blobs checked, the AuditService creating it), with the
 * verdict write-back's outbox row written in the audit's own transaction (an audit never exists
 * without its write-back). "One audit per version" holds three ways: the watch's trigger
 * `version:<v>` is claimed first (a second delivery for the version starts nothing), the
 * submission carries the Idempotency-Key `watch:<id>:<v>`, and the write-back's outbox key is
 * the audit's. A submission that fails wrote nothing and releases the trigger, so a redelivery
 * may try again. The claim comes first, in its own transaction (so that a second delivery does
 * not resolve the references again), as a lease that the audit's transaction settles: a process
 * that dies between the two leaves a lease that ends, and the version is claimed again later.
 */
import type { Config } from "../config.ts";
import type { AuditDeliveryInput } from "../store/outbox-types.ts";
import type { WatchRecord } from "../store/watch-types.ts";
import { WatchSpecSchema, targetOf, type WatchSpec } from "../watches/watch-spec.ts";
import { HF_DISCUSSION } from "../writeback/hf-discussion.ts";
import { MLFLOW_VERDICT, OCI_VERDICT } from "../writeback/writeback-senders.ts";
import type { AppServices } from "./context.ts";
import { submitAudit } from "./routes/audit-submission.ts";

/**
 * How long a version's claim waits for its audit: resolving the references (model downloads)
 * happens in between, so it is generous; past it, a claimant is taken to have died and the next
 * delivery or poll of the version claims it again (the Idempotency-Key still allows one audit).
 */
const CLAIM_LEASE_MS = 60 * 60_000;

export type TriggerOutcome = { started: true; auditId: string } | { started: false; reason: "version already audited" };

function writeback(spec: WatchSpec, version: string): AuditDeliveryInput | null {
  const s = spec.subject;
  if (s.kind === "mlflow") return { kind: MLFLOW_VERDICT, payload: { name: s.model, version, ...(s.passAlias ? { alias: s.passAlias } : {}), gate: spec.gate } };
  if (s.kind === "oci") return { kind: OCI_VERDICT, payload: { registry: s.registry, repository: s.repository, digest: version, gate: spec.gate } };
  if (s.discussion) return { kind: HF_DISCUSSION, payload: { repo: s.repo, commit: version, gate: spec.gate } };
  return null; // Hugging Face without a discussion: the verdict stays in sslmem
}

export async function startWatchAudit(s: AppServices, watch: WatchRecord, version: string): Promise<TriggerOutcome> {
  const spec = WatchSpecSchema.parse(watch.spec);
  const key = `version:${version}`;
  if (!(await s.store.claimWatchTrigger(watch.id, key, CLAIM_LEASE_MS))) return { started: false, reason: "version already audited" };
  // The write-back and the claim's settlement are written in the audit's own transaction.
  const back = writeback(spec, version);
  try {
    const result = await submitAudit(
      s,
      watch.tenant,
      {
        target: targetOf(spec.subject, version),
        reference: spec.reference,
        candidates: spec.candidates,
        ...(spec.controls !== undefined ? { controls: spec.controls } : {}),
        ...(spec.allowUnpinned !== undefined ? { allowUnpinned: spec.allowUnpinned } : {}),
        ...(spec.config !== undefined ? { config: spec.config } : {}),
      },
      `watch:${watch.id}:${version}`,
      { deliveries: back ? [back] : [], settlesWatchTrigger: { watchId: watch.id, key } },
    );
    s.logger.info({ watchId: watch.id, version, auditId: result.audit.id }, "watch started an audit");
    return { started: true, auditId: result.audit.id };
  } catch (err) {
    await s.store.releaseWatchTrigger(watch.id, key).catch(() => undefined);
    throw err;
  }
}

export type WatchConfig = Pick<Config, "watches">;
