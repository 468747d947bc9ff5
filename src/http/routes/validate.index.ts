import { jsonBodyLimit } from "../body.ts";
import { createRouter } from "../router.ts";
import { validateHandler } from "./validate.handlers.ts";
import { validateAudit } from "./validate.routes.ts";

/**
 * Hono reads `:validate` in `/v1/audits:validate` as a parameter, so the handler is mounted on a
 * regex route for the whole segment and the contract is registered for the document only.
 */
export const VALIDATE_ROUTING_PATH = "/v1/:validateAction{audits:validate}";

export function validateRouter() {
  const router = createRouter();
  router.use(VALIDATE_ROUTING_PATH, jsonBodyLimit());
  router.openAPIRegistry.registerPath(validateAudit);
  router.post(VALIDATE_ROUTING_PATH, validateHandler);
  return router;
}
