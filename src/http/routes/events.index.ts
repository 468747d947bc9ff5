import { createRouter } from "../router.ts";
import * as handlers from "./events.handlers.ts";
import * as routes from "./events.routes.ts";

export function eventsRouter() {
  return createRouter().openapi(routes.getEvents, handlers.stream);
}
