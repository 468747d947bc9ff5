/**
 * The OpenAPI 3.1 document, generated from the route contracts. `buildApiDocument()` needs no
 * services (no store, no runner), so `npm run openapi` and the drift test build it cheaply.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./context.ts";
import { mountRoutes } from "./routes/index.ts";
import { defaultHook } from "./problem-response.ts";

import type { OpenApiDocument } from "./openapi-document.ts";

export type { OpenApiDocument } from "./openapi-document.ts";

export const API_VERSION = "1.0.0";

const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "sslmem API",
    version: API_VERSION,
    description:
      "Privacy audits of self-supervised image encoders (SSLMem): which training images has an encoder memorized? " +
      "Upload the encoders and candidate data as content-addressed blobs, submit an audit, follow it, fetch the " +
      "report. Every error is an RFC 9457 problem (application/problem+json) with a stable `code`.",
    license: { name: "Apache-2.0", identifier: "Apache-2.0" },
  },
  tags: [
    { name: "blobs", description: "Content-addressed uploads (models, archives)." },
    { name: "audits", description: "Submit, follow, cancel and delete audits." },
    { name: "results", description: "Per-point results and reports." },
    { name: "operations", description: "Health, metrics and this description (no token needed)." },
  ],
};

export function registerSecuritySchemes(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "A token from `sslmem token create --tenant NAME`.",
  });
}

export function openApiDocument(app: OpenAPIHono<AppEnv>): OpenApiDocument {
  return app.getOpenAPI31Document(DOCUMENT_CONFIG);
}

/** The document of the full API, from a route table with no services behind it. */
export function buildApiDocument(): OpenApiDocument {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  registerSecuritySchemes(app);
  mountRoutes(app, () => openApiDocument(app));
  return openApiDocument(app);
}

/** The committed form of the document (openapi/openapi.json). */
export function serializeDocument(document: OpenApiDocument): string {
  return JSON.stringify(document, null, 2) + "\n";
}
