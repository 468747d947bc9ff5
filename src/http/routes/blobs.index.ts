import { createRouter } from "../router.ts";
import * as handlers from "./blobs.handlers.ts";
import * as routes from "./blobs.routes.ts";

export function blobsRouter() {
  const router = createRouter().openapi(routes.putBlob, handlers.put).openapi(routes.getBlob, handlers.get);
  router.openAPIRegistry.registerPath(routes.headBlob);
  return router;
}
