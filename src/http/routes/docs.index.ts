import type { OpenApiDocument } from "../openapi-document.ts";
import { createRouter } from "../router.ts";
import { docsHandlers } from "./docs.handlers.ts";
import * as routes from "./docs.routes.ts";

export function docsRouter(document: () => OpenApiDocument) {
  const handlers = docsHandlers(document);
  return createRouter().openapi(routes.openapiJson, handlers.json).openapi(routes.docsPage, handlers.html);
}
