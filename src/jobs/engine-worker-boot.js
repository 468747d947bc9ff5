// Entry of the engine worker thread when the TypeScript sources run under tsx (tests, scripts).
// Loader hooks registered on the main thread do not reach a worker, so the worker registers its
// own before loading engine-worker.ts. The compiled build (dist/) never loads this file.
import { register } from "tsx/esm/api";

register();
await import("./engine-worker.ts");
