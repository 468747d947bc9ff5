// Entry of the engine worker thread. Loader hooks registered on the main thread (tsx, which runs
// the TypeScript sources) do not reach a worker, so the worker registers its own before loading
// engine-worker.ts.
import { register } from "tsx/esm/api";

register();
await import("./engine-worker.ts");
