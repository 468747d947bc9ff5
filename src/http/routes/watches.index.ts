import { jsonBodyLimit } from "../body.ts";
import { createRouter } from "../router.ts";
import * as hooks from "./hooks.handlers.ts";
import * as handlers from "./watches.handlers.ts";
import * as routes from "./watches.routes.ts";

export function watchesRouter() {
  const router = createRouter();
  router.use("/v1/watches", jsonBodyLimit());
  router.use("/v1/hooks/*", jsonBodyLimit());
  return router
    .openapi(routes.createWatch, handlers.create)
    .openapi(routes.listWatches, handlers.list)
    .openapi(routes.getWatch, handlers.get)
    .openapi(routes.deleteWatch, handlers.remove)
    .openapi(routes.listDeliveries, handlers.deliveries)
    .openapi(routes.mlflowHook, hooks.mlflow)
    .openapi(routes.huggingFaceHook, hooks.huggingFace);
}
