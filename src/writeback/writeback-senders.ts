/**
 * Outbox senders of verdict write-backs (src/outbox/dispatcher.ts): one delivery per watched
 * version, written when the watch started its audit, sent once the audit has ended.
 *   mlflow-verdict  model-version tags sslmem.verdict / flagged / audit / report, the alias on pass
 *   oci-verdict     the JSON report as a referrer of the model's manifest (succeeded audits; an
 *                   audit without a report has nothing to attach, the verdict is in the log)
 * Both transports only set values, so a retried delivery changes nothing twice.
 */
import { z } from "zod";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { DeliverySender, SendResult } from "../outbox/dispatcher.ts";
import { loadReport } from "../report/stored-report.ts";
import type { SourceContext } from "../sources/context.ts";
import type { MeasurementStore, AuditRecord } from "../store/types.ts";
import { writeMlflowVerdict } from "./mlflow-writeback.ts";
import { attachReportReferrer } from "./oci-referrer.ts";
import { verdictOf } from "./verdict.ts";

export const MLFLOW_VERDICT = "mlflow-verdict";
export const OCI_VERDICT = "oci-verdict";

const GateSchema = z.object({ failOnFlagged: z.number().int().min(0) });
export const MlflowVerdictPayloadSchema = z.object({ name: z.string(), version: z.string(), alias: z.string().optional(), gate: GateSchema });
export const OciVerdictPayloadSchema = z.object({ registry: z.string(), repository: z.string(), digest: z.string(), gate: GateSchema });

/** Codes worth another attempt: the registry may come back; an auth or not-found refusal will not change by waiting. */
const TRANSIENT = new Set(["source_unreachable", "store_failure", "unavailable"]);

function failure(e: unknown, record: Record<string, string>): SendResult {
  if (!isSslmemError(e)) throw e;
  return TRANSIENT.has(e.code) ? { outcome: "retry", error: e.code, record } : { outcome: "failed", error: e.code, record };
}

export function reportUrl(publicUrl: string | undefined, auditId: string): string {
  const path = `/v1/audits/${auditId}/report`;
  return publicUrl ? new URL(path, publicUrl).href : path;
}

export function mlflowVerdictSender(ctx: SourceContext, o: { publicUrl?: string }): DeliverySender {
  return {
    async send(delivery, audit: AuditRecord): Promise<SendResult> {
      const p = MlflowVerdictPayloadSchema.parse(delivery.payload);
      const { verdict, flagged } = verdictOf(audit, p.gate);
      const record = { model: p.name, version: p.version, verdict };
      try {
        const done = await writeMlflowVerdict(
          ctx,
          { name: p.name, version: p.version },
          { verdict, flagged: flagged ?? 0, auditId: audit.id, reportUrl: reportUrl(o.publicUrl, audit.id) },
          p.alias !== undefined ? { alias: p.alias } : {},
        );
        return { outcome: "delivered", record: { ...record, ...(done.alias ? { alias: done.alias } : {}) } };
      } catch (e) {
        return failure(e, record);
      }
    },
  };
}

export function ociVerdictSender(ctx: SourceContext, store: Pick<MeasurementStore, "iterateResults">): DeliverySender {
  return {
    async send(delivery, audit: AuditRecord): Promise<SendResult> {
      const p = OciVerdictPayloadSchema.parse(delivery.payload);
      const { verdict, flagged } = verdictOf(audit, p.gate);
      const record = { repository: `${p.registry}/${p.repository}`, verdict };
      if (audit.state !== "succeeded") return { outcome: "delivered", record: { ...record, attached: "nothing (no report)" } };
      try {
        const report = await loadReport(store, audit);
        const attached = await attachReportReferrer(ctx, { registry: p.registry, repository: p.repository, digest: p.digest }, JSON.stringify(report), {
          "org.sslmem.verdict": verdict,
          "org.sslmem.flagged": String(flagged ?? 0),
          "org.sslmem.audit": audit.id,
        });
        return { outcome: "delivered", record: { ...record, referrer: attached.digest, listedBy: attached.listedBy } };
      } catch (e) {
        if (e instanceof SslmemError && e.code === "internal") throw e;
        return failure(e, record);
      }
    },
  };
}
