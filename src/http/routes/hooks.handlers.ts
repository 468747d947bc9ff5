/**
 * Registry webhook receivers. Each authenticates the delivery against its watch's secret before
 * reading the payload (src/hooks/webhook-verification.ts; MLflow delivery ids are recorded as the
 * watch's triggers, so a replay is refused by every replica and after a restart); an unknown
 * watch, a forged, stale or replayed delivery is 401 and starts nothing. An authenticated delivery starts one audit per
 * new version through startWatchAudit (http/watch-trigger.ts).
 */
import type { Context } from "hono";
import type { RouteHandler } from "@hono/zod-openapi";
import { z } from "zod";
import { validationError } from "../../core/problem.ts";
import type { WatchRecord } from "../../store/watch-types.ts";
import { huggingFaceUpdatedShas, verifyHuggingFaceWebhook, verifyMlflowWebhook } from "../../hooks/webhook-verification.ts";
import { WatchSpecSchema } from "../../watches/watch-spec.ts";
import type { AppEnv } from "../context.ts";
import { HttpProblemError } from "../problem-response.ts";
import { startWatchAudit } from "../watch-trigger.ts";
import type { huggingFaceHook, mlflowHook } from "./watches.routes.ts";

const MlflowPayloadSchema = z.object({
  entity: z.string(),
  action: z.string(),
  data: z.looseObject({ name: z.string(), version: z.union([z.string(), z.number()]).transform(String).optional() }),
});

/** The MLflow events that name a version to audit. */
const MLFLOW_EVENTS = new Set(["model_version.created", "model_version_alias.created"]);

function refused(reason: string): HttpProblemError {
  return new HttpProblemError("unauthorized", `the webhook was refused: ${reason}`, {});
}

/** The watch of kind `kind`, or 401 (not 404: an unauthenticated caller learns nothing about which ids exist). */
async function watchFor(c: Context<AppEnv>, kind: WatchRecord["kind"]): Promise<WatchRecord> {
  const watch = await c.var.services.store.getWatchInternal(c.req.param("watchId") ?? "");
  if (!watch || watch.kind !== kind) throw refused("no such watch");
  return watch;
}

function parsePayload<T>(schema: z.ZodType<T>, body: string): T {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw validationError("the webhook payload is not JSON", [{ path: "", message: "not valid JSON", location: "body" }]);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw validationError("the webhook payload is not one this receiver knows", parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message, location: "body" })));
  }
  return parsed.data;
}

export const mlflow: RouteHandler<typeof mlflowHook, AppEnv> = async (c) => {
  const s = c.var.services;
  const watch = await watchFor(c, "mlflow");
  const body = await c.req.text();
  const deliveryKey = (id: string) => `delivery:${id}`;
  const { deliveryId } = await verifyMlflowWebhook(c.req.raw.headers, body, {
    secret: watch.secret,
    ledger: { record: (id) => s.store.claimWatchTrigger(watch.id, deliveryKey(id)) },
    nowMs: Date.now(),
    toleranceMs: s.config.watches.toleranceSeconds * 1000,
  });
  try {
    const payload = parsePayload(MlflowPayloadSchema, body);
    const event = `${payload.entity}.${payload.action}`;
    const subject = WatchSpecSchema.parse(watch.spec).subject;
    if (!MLFLOW_EVENTS.has(event)) return c.json({ audits: [], ignored: [`event ${event} is not audited`] }, 200);
    if (subject.kind !== "mlflow" || payload.data.name !== subject.model) return c.json({ audits: [], ignored: [`model ${payload.data.name} is not watched here`] }, 200);
    if (payload.data.version === undefined) throw validationError("the event names no version", [{ path: "data.version", message: "required", location: "body" }]);
    const outcome = await startWatchAudit(s, watch, payload.data.version);
    return outcome.started ? c.json({ audits: [outcome.auditId], ignored: [] }, 202) : c.json({ audits: [], ignored: [`version ${payload.data.version}: ${outcome.reason}`] }, 200);
  } catch (err) {
    // Not processed: MLflow's redelivery of the same id may try again.
    await s.store.releaseWatchTrigger(watch.id, deliveryKey(deliveryId)).catch(() => undefined);
    throw err;
  }
};

export const huggingFace: RouteHandler<typeof huggingFaceHook, AppEnv> = async (c) => {
  const s = c.var.services;
  const watch = await watchFor(c, "huggingface");
  verifyHuggingFaceWebhook(c.req.raw.headers, { secret: watch.secret });
  const updates = huggingFaceUpdatedShas(parsePayload(z.unknown(), await c.req.text()));
  const subject = WatchSpecSchema.parse(watch.spec).subject;
  if (subject.kind !== "huggingface") throw new Error(`watch ${watch.id} is not a Hugging Face watch`);
  const audits: string[] = [];
  const ignored: string[] = updates.length === 0 ? ["no updated commit in a repo.content event"] : [];
  for (const update of updates) {
    if (update.repo !== subject.repo) ignored.push(`repo ${update.repo} is not watched here`);
    else if (!subject.refs.includes(update.ref)) ignored.push(`${update.ref} is not watched`);
    else {
      const outcome = await startWatchAudit(s, watch, update.sha);
      if (outcome.started) audits.push(outcome.auditId);
      else ignored.push(`${update.sha}: ${outcome.reason}`);
    }
  }
  return c.json({ audits, ignored }, audits.length > 0 ? 202 : 200);
};
