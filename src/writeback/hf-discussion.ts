/**
 * The optional Hugging Face write-back (a watch's `discussion: true`; off by default): a
 * discussion on the audited repo with the verdict and the summary, through the Hub's REST route
 * `POST /api/models/{repo}/discussions` ({title, description}) with SSLMEM_HF_TOKEN.
 * Unlike tags, a discussion is not a value that can be set twice to the same effect: only a
 * failure with no answer from the Hub (network, 5xx) is retried, and a retry after a lost answer
 * may open a second discussion.
 */
import { z } from "zod";
import { isSslmemError } from "../core/errors.ts";
import type { DeliverySender, SendResult } from "../outbox/dispatcher.ts";
import type { SourceContext } from "../sources/context.ts";
import type { AuditRecord } from "../store/types.ts";
import { verdictOf } from "./verdict.ts";
import { reportUrl } from "./writeback-senders.ts";

export const HF_DISCUSSION = "hf-discussion";

export const HfDiscussionPayloadSchema = z.object({ repo: z.string(), commit: z.string(), gate: z.object({ failOnFlagged: z.number().int().min(0) }) });

export function hfDiscussionSender(ctx: SourceContext, o: { publicUrl?: string }): DeliverySender {
  return {
    async send(delivery, audit: AuditRecord): Promise<SendResult> {
      const p = HfDiscussionPayloadSchema.parse(delivery.payload);
      const { verdict, flagged } = verdictOf(audit, p.gate);
      const summary = audit.summary as { candidates?: number } | null;
      const title = `sslmem audit: ${verdict} for ${p.commit.slice(0, 7)}`;
      const description = [
        `**Verdict: ${verdict}** (gate: at most ${p.gate.failOnFlagged} flagged candidates)`,
        "",
        flagged === null ? `The audit ${audit.state}; nothing could be scored.` : `${flagged} of ${summary?.candidates ?? "?"} candidates flagged as memorized.`,
        "",
        `Commit \`${p.commit}\` · audit \`${audit.id}\` · [report](${reportUrl(o.publicUrl, audit.id)})`,
      ].join("\n");
      const record = { repo: p.repo, verdict };
      try {
        const res = await ctx.fetch(`${ctx.hf.endpoint}/api/models/${p.repo}/discussions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(ctx.hf.token ? { authorization: `Bearer ${ctx.hf.token}` } : {}) },
          body: JSON.stringify({ title, description }),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) return { outcome: "delivered", record: { ...record, status: res.status } };
        const error = `status ${res.status}`;
        return res.status >= 500 ? { outcome: "retry", error, record } : { outcome: "failed", error, record };
      } catch (e) {
        if (!isSslmemError(e)) throw e;
        return e.code === "source_unreachable" ? { outcome: "retry", error: e.code, record } : { outcome: "failed", error: e.code, record };
      }
    },
  };
}
