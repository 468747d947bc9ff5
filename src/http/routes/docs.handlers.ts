import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../context.ts";
import { renderDocsPage } from "../docs-page.ts";
import type { OpenApiDocument } from "../openapi-document.ts";
import type { docsPage, openapiJson } from "./docs.routes.ts";

export function docsHandlers(document: () => OpenApiDocument) {
  let page: string | undefined;
  const json: RouteHandler<typeof openapiJson, AppEnv> = (c) => c.json({ ...document() }, 200);
  const html: RouteHandler<typeof docsPage, AppEnv> = (c) =>
    c.html((page ??= renderDocsPage(document())), 200, {
      // Everything is inline: forbid the page from loading anything at all from elsewhere.
      "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    });
  return { json, html };
}
