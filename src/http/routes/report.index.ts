import { createRouter } from "../router.ts";
import * as handlers from "./report.handlers.ts";
import * as routes from "./report.routes.ts";

export function reportRouter() {
  return createRouter().openapi(routes.getReport, handlers.get);
}
