/**
 * The TensorFlow.js runtime, chosen once per process and reported like the ORT provider:
 * `@tensorflow/tfjs-node-gpu` when its native binding loads (CUDA), else `@tensorflow/tfjs-node`
 * when installed, else `@tensorflow/tfjs` on the WebAssembly backend (`@tensorflow/tfjs-backend-wasm`),
 * else its plain JavaScript CPU backend. Why each was skipped is kept for the logs and the report.
 */
import type * as tfType from "@tensorflow/tfjs";

export type Tf = typeof tfType;

export interface TfjsRuntime {
  tf: Tf;
  /** The package that runs the work and its backend, e.g. "tfjs-node-gpu/tensorflow", "tfjs/wasm". */
  backend: string;
  skipped: { candidate: string; reason: string }[];
}

let chosen: Promise<TfjsRuntime> | undefined;

/** Loads a module whose name TypeScript need not resolve (optional packages). */
async function optionalImport(name: string): Promise<Tf> {
  return import(name);
}

async function choose(): Promise<TfjsRuntime> {
  const skipped: TfjsRuntime["skipped"] = [];
  const reason = (e: unknown) => (e instanceof Error ? e.message.split("\n")[0] : String(e)).replace(/\/[^\s:]*\//g, "…/").slice(0, 200);
  for (const name of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      const tf = await optionalImport(name);
      await tf.ready();
      return { tf, backend: `${name.replace("@tensorflow/", "")}/${tf.getBackend()}`, skipped };
    } catch (e) {
      skipped.push({ candidate: name, reason: reason(e) });
    }
  }
  const tf = await optionalImport("@tensorflow/tfjs");
  try {
    await optionalImport("@tensorflow/tfjs-backend-wasm");
    if (await tf.setBackend("wasm")) {
      await tf.ready();
      return { tf, backend: "tfjs/wasm", skipped };
    }
    skipped.push({ candidate: "@tensorflow/tfjs-backend-wasm", reason: "the backend did not initialize" });
  } catch (e) {
    skipped.push({ candidate: "@tensorflow/tfjs-backend-wasm", reason: reason(e) });
  }
  await tf.setBackend("cpu");
  await tf.ready();
  return { tf, backend: "tfjs/cpu", skipped };
}

/** The process's TF.js runtime (chosen on first use). */
export function loadTfjs(): Promise<TfjsRuntime> {
  chosen ??= choose();
  return chosen;
}
