// Entry of a session's worker thread when the service runs from its TypeScript sources (tests,
// under tsx): a worker thread does not inherit the loader hooks that tsx's register() installed in
// an engine process (engine-worker-boot.js), so it registers its own before loading the worker.
// The compiled build (dist/) never loads this file.
import { register } from "tsx/esm/api";

register();
await import("./session-thread-worker.ts");
