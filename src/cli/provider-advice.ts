/**
 * Execution-provider failures explained for a CLI user: which provider, why (ONNX Runtime's
 * reason, paths removed), and what to do.
 */
import { isSslmemError, SslmemError } from "../core/errors.ts";
import { PROVIDER_NAMES, type ProviderName } from "../engine/providers.ts";
import { UsageError } from "./errors.ts";

const ADVICE: Partial<Record<ProviderName, string>> = {
  cuda: "CUDA needs an NVIDIA driver, CUDA 12 and cuDNN 9 libraries visible to onnxruntime-node (install it with ONNXRUNTIME_NODE_INSTALL_CUDA=v12, or use the GPU image)",
  tensorrt: "TensorRT needs its libraries next to CUDA's (see onnxruntime's TensorRT provider requirements)",
  webgpu: "WebGPU is not part of the Node build on most platforms",
  dml: "DirectML runs on Windows only",
  coreml: "CoreML runs on macOS only",
};

/** --providers as a checked list. */
export function parseProviders(value: string | undefined): ProviderName[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(",").map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new UsageError(`--providers takes a comma-separated list of ${PROVIDER_NAMES.join(", ")}`);
  for (const p of list) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(p)) throw new UsageError(`--providers: unknown provider '${p}'; known: ${PROVIDER_NAMES.join(", ")}`);
  }
  return list as ProviderName[];
}

/** The engine's "no provider could be started" error, rewritten to name each provider, why, and what to do. */
export function explainProviderFailure(e: unknown): unknown {
  if (!isSslmemError(e) || e.code !== "engine_failure") return e;
  const skipped = e.details?.skipped as { provider: ProviderName; reason: string }[] | undefined;
  if (!Array.isArray(skipped) || skipped.length === 0) return e;
  const parts = skipped.map((s) => `${s.provider} could not be started (${s.reason})${ADVICE[s.provider] ? ` — ${ADVICE[s.provider]}` : ""}`);
  return new SslmemError(
    "engine_failure",
    `--providers: ${parts.join("; ")}. Add cpu as a fallback (--providers ${skipped.map((s) => s.provider).join(",")},cpu) or drop --providers to use cuda when it loads, else cpu`,
    e.details,
  );
}
