/**
 * Registry webhook receivers. Each authenticates the delivery against its watch's secret before
 * reading the payload (src/watches/webhook-verification.ts); an unknown watch, a forged, stale or
 * replayed delivery is 401 and starts nothing. An authenticated delivery starts one audit per
 * new version through startWatchAudit (http/watch-trigger.ts).
 */
import type { Context } from "hono";
import type { RouteHandler } from "@hono/zod-openapi";
import { z } from "zod";
import { validationError } from "../../core/problem.ts";
import type { WatchRecord } from "../../store/watch-types.ts";
import { MLFLOW_HEADERS, HF_SECRET_HEADER, verifyHuggingFaceSecret, verifyMlflowDelivery, type Verification } from "../../watches/webhook-verification.ts";
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

const HuggingFacePayloadSchema = z.object({
  event: z.object({ action: z.string(), scope: z.string() }),
  repo: z.looseObject({ type: z.string().optional(), name: z.string() }),
  updatedRefs: z.array(z.object({ ref: z.string(), oldSha: z.string().nullish(), newSha: z.string().nullish() })).optional(),
});

const COMMIT_SHA = /^[0-9a-f]{40}$/;

function refused(reason: string): HttpProblemError {
  return new HttpProblemError("unauthorized", `the webhook was refused: ${reason}`, {});
}

/** The watch of kind `kind`, or 401 (not 404: an unauthenticated caller learns nothing about which ids exist). */
async function watchFor(c: Context<AppEnv>, kind: WatchRecord["kind"]): Promise<WatchRecord> {
  const watch = await c.var.services.store.getWatchInternal(c.req.param("watchId") ?? "");
  if (!watch || watch.kind !== kind) throw refused("no such watch");
  return watch;
}

function assertVerified(v: Verification): void {
  if (!v.ok) throw refused(v.reason);
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
  const deliveryId = c.req.header(MLFLOW_HEADERS.deliveryId);
  assertVerified(
    verifyMlflowDelivery(
      watch.secret,
      { signature: c.req.header(MLFLOW_HEADERS.signature), deliveryId, timestamp: c.req.header(MLFLOW_HEADERS.timestamp) },
      body,
      { nowSeconds: Math.floor(Date.now() / 1000), toleranceSeconds: s.config.watches.toleranceSeconds },
    ),
  );
  const deliveryKey = `delivery:${deliveryId}`;
  if (!(await s.store.claimWatchTrigger(watch.id, deliveryKey))) throw refused("this delivery id was already received (replay)");
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
    await s.store.releaseWatchTrigger(watch.id, deliveryKey).catch(() => undefined);
    throw err;
  }
};

export const huggingFace: RouteHandler<typeof huggingFaceHook, AppEnv> = async (c) => {
  const s = c.var.services;
  const watch = await watchFor(c, "huggingface");
  assertVerified(verifyHuggingFaceSecret(watch.secret, c.req.header(HF_SECRET_HEADER)));
  const payload = parsePayload(HuggingFacePayloadSchema, await c.req.text());
  const subject = WatchSpecSchema.parse(watch.spec).subject;
  if (payload.event.scope !== "repo.content") return c.json({ audits: [], ignored: [`scope ${payload.event.scope} is not audited`] }, 200);
  if (subject.kind !== "huggingface" || payload.repo.name !== subject.repo) return c.json({ audits: [], ignored: [`repo ${payload.repo.name} is not watched here`] }, 200);
  const audits: string[] = [];
  const ignored: string[] = [];
  for (const ref of payload.updatedRefs ?? []) {
    if (!subject.refs.includes(ref.ref)) ignored.push(`${ref.ref} is not watched`);
    else if (!ref.newSha || !COMMIT_SHA.test(ref.newSha)) ignored.push(`${ref.ref} was deleted`);
    else {
      const outcome = await startWatchAudit(s, watch, ref.newSha);
      if (outcome.started) audits.push(outcome.auditId);
      else ignored.push(`${ref.newSha}: ${outcome.reason}`);
    }
  }
  return c.json({ audits, ignored }, audits.length > 0 ? 202 : 200);
};
