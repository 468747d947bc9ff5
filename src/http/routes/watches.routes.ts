/** Contracts of the watch resource (registry subjects whose new versions start audits) and the registry webhook receivers. */
import { createRoute, z } from "@hono/zod-openapi";
import { WatchSpecSchema } from "../../watches/watch-spec.ts";
import { BearerSecurity, problemResponses } from "../schemas.ts";

export const WatchIdSchema = z
  .string()
  .regex(/^wch_[0-9A-HJKMNP-TV-Z]{26}$/, "a watch id (wch_…)")
  .openapi({ param: { name: "id", in: "path" }, example: "wch_01JH0000000000000000000000" });
const WatchIdParams = z.object({ id: WatchIdSchema });
const HookParams = z.object({ watchId: WatchIdSchema.openapi({ param: { name: "watchId", in: "path" } }) });

// .meta, not .openapi: the spec is plain zod (src/watches), like AuditConfig.
export const CreateWatchRequestSchema = WatchSpecSchema.meta({
  id: "CreateWatchRequest",
  description:
    "subject: what to watch (mlflow registered model, huggingface repo + ONNX path, oci repository + tag); reference, " +
    "candidates, controls: blob digests or references as in POST /v1/audits; config: the audit config; gate: the verdict rule.",
});

export const WatchResourceSchema = z
  .object({
    id: WatchIdSchema,
    kind: z.enum(["mlflow", "huggingface", "oci"]),
    spec: z.record(z.string(), z.unknown()).openapi({ description: "The watch as created, defaults applied." }),
    createdAt: z.string().openapi({ format: "date-time" }),
    hook: z.string().nullable().openapi({ description: "Where the registry delivers its webhooks (null for oci: polled)." }),
  })
  .openapi("Watch");

export const CreatedWatchSchema = WatchResourceSchema.extend({
  secret: z.string().openapi({
    description: "The webhook secret, shown once: MLflow's webhook `secret` (HMAC key) or Hugging Face's webhook secret (X-Webhook-Secret).",
  }),
}).openapi("CreatedWatch");

const watchJson = { "application/json": { schema: WatchResourceSchema } };

export const createWatch = createRoute({
  method: "post",
  path: "/v1/watches",
  tags: ["watches"],
  summary: "Watch a registry subject: each new version is audited and its verdict written back",
  security: BearerSecurity,
  request: { body: { required: true, content: { "application/json": { schema: CreateWatchRequestSchema } } } },
  responses: {
    201: { description: "Created; the secret is shown this once.", content: { "application/json": { schema: CreatedWatchSchema } } },
    ...problemResponses(400, 401, 413, 415, 422, 500),
  },
});

export const listWatches = createRoute({
  method: "get",
  path: "/v1/watches",
  tags: ["watches"],
  summary: "Your watches",
  security: BearerSecurity,
  responses: {
    200: { description: "Oldest first.", content: { "application/json": { schema: z.object({ items: z.array(WatchResourceSchema) }).openapi("WatchList") } } },
    ...problemResponses(401, 500),
  },
});

export const getWatch = createRoute({
  method: "get",
  path: "/v1/watches/{id}",
  tags: ["watches"],
  summary: "A watch",
  security: BearerSecurity,
  request: { params: WatchIdParams },
  responses: { 200: { description: "The watch.", content: watchJson }, ...problemResponses(400, 401, 404, 500) },
});

export const deleteWatch = createRoute({
  method: "delete",
  path: "/v1/watches/{id}",
  tags: ["watches"],
  summary: "Stop watching (audits already started run to the end)",
  security: BearerSecurity,
  request: { params: WatchIdParams },
  responses: { 204: { description: "Deleted." }, ...problemResponses(400, 401, 404, 500) },
});

const HookResultSchema = z
  .object({
    audits: z.array(z.string()).openapi({ description: "Audits started by this delivery." }),
    ignored: z.array(z.string()).openapi({ description: "Why parts of the delivery started nothing (other events, versions already audited)." }),
  })
  .openapi("HookResult");

/** Described, not validated by the router: the signature covers the raw bytes, which a JSON validator would re-serialize. */
const rawJsonBody = { required: true, content: { "application/json": { schema: { type: "object" as const } } } };

export const mlflowHook = createRoute({
  method: "post",
  path: "/v1/hooks/mlflow/{watchId}",
  tags: ["hooks"],
  summary: "MLflow webhook receiver (model_version.created, model_version_alias.created)",
  description:
    "Authenticated by X-MLflow-Signature (v1 = HMAC-SHA256 of `delivery_id.timestamp.payload` with the watch's secret), " +
    "X-MLflow-Timestamp within the tolerance and an X-MLflow-Delivery-Id not seen before; anything else is 401 and starts nothing.",
  request: {
    params: HookParams,
    headers: z.object({
      "x-mlflow-signature": z.string().optional(),
      "x-mlflow-delivery-id": z.string().optional(),
      "x-mlflow-timestamp": z.string().optional(),
    }),
    body: rawJsonBody,
  },
  responses: {
    202: { description: "Audits started.", content: { "application/json": { schema: HookResultSchema } } },
    200: { description: "Authenticated; nothing to audit.", content: { "application/json": { schema: HookResultSchema } } },
    ...problemResponses(400, 401, 404, 413, 422, 500),
  },
});

export const huggingFaceHook = createRoute({
  method: "post",
  path: "/v1/hooks/huggingface/{watchId}",
  tags: ["hooks"],
  summary: "Hugging Face webhook receiver (repo.content: each updatedRefs[].newSha of a watched ref)",
  description: "Authenticated by X-Webhook-Secret (compared in constant time); a wrong or missing secret is 401 and starts nothing.",
  request: { params: HookParams, headers: z.object({ "x-webhook-secret": z.string().optional() }), body: rawJsonBody },
  responses: {
    202: { description: "Audits started.", content: { "application/json": { schema: HookResultSchema } } },
    200: { description: "Authenticated; nothing to audit.", content: { "application/json": { schema: HookResultSchema } } },
    ...problemResponses(400, 401, 404, 413, 422, 500),
  },
});

const DeliverySchema = z
  .object({
    kind: z.string().openapi({ description: "callback, mlflow-verdict, oci-verdict" }),
    state: z.enum(["pending", "delivered", "dead"]),
    attempts: z.number().int().min(0),
    lastError: z.string().nullable(),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Delivery");

export const listDeliveries = createRoute({
  method: "get",
  path: "/v1/audits/{id}/deliveries",
  tags: ["audits"],
  summary: "What the outbox delivered for an audit (callback, verdict write-back), with attempts and the last error",
  security: BearerSecurity,
  request: { params: z.object({ id: z.string().regex(/^aud_[0-9A-HJKMNP-TV-Z]{26}$/).openapi({ param: { name: "id", in: "path" } }) }) },
  responses: {
    200: { description: "Oldest first.", content: { "application/json": { schema: z.object({ items: z.array(DeliverySchema) }).openapi("DeliveryList") } } },
    ...problemResponses(400, 401, 404, 500),
  },
});
