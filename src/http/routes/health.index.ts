import { createRouter } from "../router.ts";
import * as handlers from "./health.handlers.ts";
import * as routes from "./health.routes.ts";

export function healthRouter() {
  return createRouter()
    .openapi(routes.livez, handlers.live)
    .openapi(routes.readyz, handlers.ready)
    .openapi(routes.metrics, handlers.prometheus);
}
