import { jsonBodyLimit } from "../body.ts";
import { createRouter } from "../router.ts";
import * as handlers from "./audits.handlers.ts";
import * as routes from "./audits.routes.ts";

/**
 * Hono path of `POST /v1/audits/{id}:cancel`: a parameter followed by a literal in one segment
 * is not expressible as `:id:cancel` (that names a parameter "id:cancel"), so the whole segment
 * is one regex parameter and the handler strips the suffix.
 */
export const CANCEL_ROUTING_PATH = "/v1/audits/:idAction{[^/]+:cancel}";

export function auditsRouter() {
  const router = createRouter();
  router.use("/v1/audits", jsonBodyLimit());
  router
    .openapi(routes.createAudit, handlers.create)
    .openapi(routes.listAudits, handlers.list)
    .openapi(routes.getAudit, handlers.get)
    .openapi(routes.deleteAudit, handlers.remove);
  router.openAPIRegistry.registerPath(routes.cancelAudit);
  router.post(CANCEL_ROUTING_PATH, handlers.cancel);
  return router;
}
