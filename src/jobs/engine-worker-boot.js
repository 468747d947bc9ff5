// Entry of the engine process (forked by engine-host.ts). The service's loader hooks (tsx, which
// runs the TypeScript sources) are not inherited through execArgv, so the engine registers its
// own before loading engine-worker.ts. The compiled build (dist/) never loads this file.
import { register } from "tsx/esm/api";

register();
await import("./engine-worker.ts");
