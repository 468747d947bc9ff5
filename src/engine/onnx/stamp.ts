/**
 * `sslmem stamp`: writes the sslmem.* preprocessing metadata into a copy of an ONNX model, so
 * every later audit of it (CLI or API) needs no normalization flags. The format is metadata_props
 * entries (ONNX's own key/value list, visible in Netron and onnx.load(...).metadata_props):
 *
 *   sslmem.normalize  a preset name (imagenet, clip, half, unit, none)     — or —
 *   sslmem.mean, sslmem.std  three comma-separated numbers on the [0,1] scale, sslmem.range LO,HI
 *   sslmem.layout     NCHW or NHWC (optional)
 *
 * Existing sslmem.* entries are replaced, every other byte of the model is kept (unknown fields
 * are carried through), and the result is inspected again so a stamped model always loads.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, StringStringEntryProtoSchema } from "onnx-buf";
import { SslmemError } from "../../core/errors.ts";
import type { PreprocessingOverrides } from "../../core/audit-config.ts";
import { inspectOnnx } from "./inspect.ts";

export type StampValues = Pick<PreprocessingOverrides, "normalize" | "mean" | "std" | "range" | "layout">;

/** The metadata entries that describe `values` (validated by the caller's schema). */
export function stampEntries(values: StampValues): Record<string, string> {
  const out: Record<string, string> = {};
  if (values.normalize !== undefined) out["sslmem.normalize"] = values.normalize;
  if (values.mean !== undefined) out["sslmem.mean"] = values.mean.join(",");
  if (values.std !== undefined) out["sslmem.std"] = values.std.join(",");
  if (values.range !== undefined) out["sslmem.range"] = values.range.join(",");
  if (values.layout !== undefined) out["sslmem.layout"] = values.layout;
  return out;
}

export function stampModel(bytes: Uint8Array, values: StampValues): Uint8Array {
  inspectOnnx(bytes); // refuse what is not a loadable ONNX model before writing anything
  const entries = stampEntries(values);
  if (Object.keys(entries).length === 0) {
    throw new SslmemError("invalid_config", "nothing to stamp: pass --normalize PRESET or --mean/--std (and optionally --range, --layout)");
  }
  const model = fromBinary(ModelProtoSchema, bytes);
  model.metadataProps = model.metadataProps.filter((p) => !p.key.startsWith("sslmem."));
  for (const [key, value] of Object.entries(entries)) model.metadataProps.push(create(StringStringEntryProtoSchema, { key, value }));
  return toBinary(ModelProtoSchema, model);
}
