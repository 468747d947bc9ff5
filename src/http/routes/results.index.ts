import { createRouter } from "../router.ts";
import * as handlers from "./results.handlers.ts";
import * as routes from "./results.routes.ts";

export function resultsRouter() {
  return createRouter().openapi(routes.getResults, handlers.list);
}
