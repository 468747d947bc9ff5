/**
 * `sslmem stamp MODEL.onnx --normalize PRESET | --mean a,b,c --std a,b,c [--range LO,HI] [--layout L] [-o OUT]`:
 * writes the model's preprocessing into a copy of it (sslmem.* metadata_props, see
 * src/engine/onnx/stamp.ts), so audits of that model need no normalization flags.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { PreprocessingOverridesSchema } from "../core/audit-config.ts";
import { SslmemError } from "../core/errors.ts";
import { stampEntries, stampModel } from "../engine/onnx/stamp.ts";
import { formatZodIssues } from "./audit-args.ts";
import { EXIT } from "./errors.ts";
import { pair, parseStrict, triple } from "./parse-flags.ts";

const OPTIONS = {
  normalize: { type: "string" },
  mean: { type: "string" },
  std: { type: "string" },
  range: { type: "string" },
  layout: { type: "string" },
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
} as const;

const HELP = `sslmem stamp — write an encoder's preprocessing into a copy of the model

Usage:
  sslmem stamp MODEL.onnx --normalize imagenet|clip|half|unit|none [--layout NCHW|NHWC] [-o OUT.onnx]
  sslmem stamp MODEL.onnx --mean a,b,c --std a,b,c [--range LO,HI] [--layout NCHW|NHWC] [-o OUT.onnx]

Writes metadata_props sslmem.normalize (or sslmem.mean, sslmem.std, sslmem.range) and
sslmem.layout into OUT (default: MODEL.stamped.onnx next to MODEL); every other byte of the model
is kept. Audits of the stamped model need no --normalize/--mean/--std. mean/std are on the [0,1]
scale (torchvision convention). OUT may be MODEL itself to stamp in place.
`;

export async function stampCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseStrict("stamp", argv, OPTIONS, true);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new SslmemError("invalid_config", "pass exactly one model file: sslmem stamp MODEL.onnx --normalize PRESET (see 'sslmem stamp --help')");
  const model = positionals[0];
  const parsed = PreprocessingOverridesSchema.safeParse(
    Object.fromEntries(
      Object.entries({
        normalize: values.normalize,
        mean: triple("mean", values.mean),
        std: triple("std", values.std),
        range: pair("range", values.range),
        layout: values.layout,
      }).filter(([, v]) => v !== undefined),
    ),
  );
  if (!parsed.success) throw new SslmemError("invalid_config", formatZodIssues(parsed.error));
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(model));
  } catch {
    throw new SslmemError("model_not_found", `cannot read '${model}'; pass the path of an ONNX file`);
  }
  const stamped = stampModel(bytes, parsed.data);
  const out = values.output ?? join(dirname(model), `${basename(model, extname(model))}.stamped${extname(model) || ".onnx"}`);
  // Written next to the destination, then renamed: an interrupted stamp never leaves half a model.
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, stamped);
    await rename(tmp, out);
  } catch (e) {
    throw new SslmemError("invalid_config", `cannot write '${out}' (${(e as NodeJS.ErrnoException).code ?? "error"}); check that the folder exists and is writable`);
  }
  const entries = Object.entries(stampEntries(parsed.data)).map(([k, v]) => `${k}=${v}`).join(" ");
  process.stderr.write(`sslmem: stamped ${out} (${entries})\n`);
  return EXIT.ok;
}
