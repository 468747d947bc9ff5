/** Mounts every router of the API on `app` (the app factory and the OpenAPI generator share it). */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context.ts";
import type { OpenApiDocument } from "../openapi-document.ts";
import { auditsRouter } from "./audits.index.ts";
import { blobsRouter } from "./blobs.index.ts";
import { docsRouter } from "./docs.index.ts";
import { eventsRouter } from "./events.index.ts";
import { healthRouter } from "./health.index.ts";
import { reportRouter } from "./report.index.ts";
import { resultsRouter } from "./results.index.ts";

export function mountRoutes(app: OpenAPIHono<AppEnv>, document: () => OpenApiDocument): void {
  app
    .route("/", healthRouter())
    .route("/", docsRouter(document))
    .route("/", blobsRouter())
    .route("/", auditsRouter())
    .route("/", resultsRouter())
    .route("/", reportRouter())
    .route("/", eventsRouter());
}
