import type { OpenAPIHono } from "@hono/zod-openapi";

/** The OpenAPI 3.1 document as the route table produces it; a leaf module, so routes can name it without an import cycle. */
export type OpenApiDocument = ReturnType<OpenAPIHono["getOpenAPI31Document"]>;
