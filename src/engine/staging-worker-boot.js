// Entry of the staging thread (staging.ts) when the sources run as TypeScript (tests, under tsx):
// a worker thread does not inherit the loader hooks tsx registered, so it registers its own before
// loading staging-worker.ts. The compiled build (dist/) never loads this file.
import { register } from "tsx/esm/api";

register();
await import("./staging-worker.ts");
