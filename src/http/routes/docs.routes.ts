/** Contracts of the API's own description. */
import { createRoute, z } from "@hono/zod-openapi";

export const openapiJson = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["operations"],
  summary: "This OpenAPI 3.1 document",
  responses: {
    200: { description: "The document.", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
  },
});

export const docsPage = createRoute({
  method: "get",
  path: "/docs",
  tags: ["operations"],
  summary: "Human-readable API reference (self-contained HTML, works offline)",
  responses: {
    200: { description: "The page.", content: { "text/html": { schema: { type: "string" as const } } } },
  },
});
