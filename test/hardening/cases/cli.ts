/**
 * A handful of the hostile inputs through the CLI (`sslmem audit`, local engine): exit 1, one line
 * on stderr naming the code, nothing on stdout, no stack trace.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ErrorCode } from "../../../src/core/errors.ts";
import { pngBomb } from "../../helpers/data-png.ts";
import { writeTar } from "../../helpers/data-tar.ts";
import { writeZip } from "../../helpers/data-zip.ts";
import { tinyConvGraphModel, tinyConvWeights } from "../../helpers/tiny-graph-model.ts";
import { externalDataModel } from "../../helpers/tiny-encoders.ts";
import { noisePng, tarWithValid, validCandidates, validReference, validTarget } from "./inputs.ts";

export interface CliCase {
  id: string;
  input: string;
  code: ErrorCode;
  /** Writes the inputs under `dir` and returns the `sslmem audit` arguments. */
  prepare(dir: string): string[];
}

function inputs(dir: string, o: { target?: Uint8Array; candidates?: Uint8Array | "dir-with-bomb" } = {}): string[] {
  const target = join(dir, "target.onnx");
  const reference = join(dir, "reference.onnx");
  writeFileSync(target, o.target ?? validTarget());
  writeFileSync(reference, validReference());
  let candidates = join(dir, "candidates.tar");
  if (o.candidates === "dir-with-bomb") {
    candidates = join(dir, "images");
    mkdirSync(candidates);
    writeFileSync(join(candidates, "ok.png"), noisePng(16, 16, 1));
    writeFileSync(join(candidates, "bomb.png"), pngBomb(50_000, 50_000));
  } else {
    writeFileSync(candidates, o.candidates ?? validCandidates());
  }
  return ["--target", target, "--reference", reference, "--candidates", candidates, "--views", "2", "--providers", "cpu", "--threads", "1", "--quiet"];
}

/** A TF.js model directory as --target whose model.json is `mutate`d from a minimal valid one. */
function tfjsTarget(dir: string, mutate: (modelJson: { modelTopology: any; weightsManifest: any[] }) => void): string[] {
  const model = join(dir, "tfjs-target");
  mkdirSync(model);
  const modelJson = {
    format: "layers-model",
    modelTopology: { class_name: "Sequential", config: { name: "m", layers: [{ class_name: "Flatten", config: { name: "f", batch_input_shape: [null, 16, 16, 3] } }, { class_name: "Dense", config: { name: "d", units: 4 } }] } },
    weightsManifest: [{ paths: ["weights.bin"], weights: [{ name: "d/kernel", shape: [768, 4], dtype: "float32" }, { name: "d/bias", shape: [4], dtype: "float32" }] }],
  };
  mutate(modelJson);
  writeFileSync(join(model, "model.json"), JSON.stringify(modelJson));
  writeFileSync(join(model, "weights.bin"), new Uint8Array(772 * 4));
  const args = inputs(dir);
  args[1] = model;
  return args;
}

/** A TF.js model archive as --target, built from the minimal valid model by `entries(modelJson, weights)`. */
function tfjsArchiveTarget(dir: string, name: string, build: (modelJson: Buffer, weights: Uint8Array) => Buffer): string[] {
  const args = tfjsTarget(dir, () => {});
  const archive = join(dir, name);
  writeFileSync(archive, build(readFileSync(join(args[1], "model.json")), readFileSync(join(args[1], "weights.bin"))));
  args[1] = archive;
  return args;
}

/** A TF.js GraphModel folder as --target, `mutate`d from the tiny conv GraphModel. */
function graphModelTarget(dir: string, mutate: (modelJson: Record<string, any>) => void): string[] {
  const model = join(dir, "graph-target");
  mkdirSync(model);
  const { modelJson, weights } = tinyConvGraphModel(tinyConvWeights(1));
  mutate(modelJson);
  writeFileSync(join(model, "model.json"), JSON.stringify(modelJson));
  writeFileSync(join(model, "group1-shard1of1.bin"), weights);
  const args = inputs(dir);
  args[1] = model;
  return args;
}

export const CLI_CASES: CliCase[] = [
  { id: "C01", input: "--target is a text file", code: "model_invalid", prepare: (d) => inputs(d, { target: Buffer.from("not a model\n") }) },
  { id: "C02", input: "--target has an external-data tensor at ../../etc/passwd", code: "model_unsupported", prepare: (d) => inputs(d, { target: externalDataModel() }) },
  { id: "C03", input: "--candidates tar with a ../x.png member", code: "archive_unsafe", prepare: (d) => inputs(d, { candidates: tarWithValid({ name: "../x.png", data: noisePng(8, 8, 2) }) }) },
  { id: "C04", input: "--candidates folder holding a 50000×50000 PNG header", code: "image_too_large", prepare: (d) => inputs(d, { candidates: "dir-with-bomb" }) },
  { id: "C05", input: "--views 0", code: "invalid_config", prepare: (d) => [...inputs(d), "--views", "0"] },
  { id: "C06", input: "--target TF.js model.json naming a weight shard at ../../etc/passwd", code: "model_invalid", prepare: (d) => tfjsTarget(d, (m) => (m.weightsManifest[0].paths = ["../../etc/passwd"])) },
  { id: "C07", input: "--target TF.js model.json declaring a [65536,65536,64] weight", code: "model_invalid", prepare: (d) => tfjsTarget(d, (m) => (m.weightsManifest[0].weights[0].shape = [65536, 65536, 64])) },
  { id: "C08", input: "--target TF.js model.json with a custom layer class", code: "model_unsupported", prepare: (d) => tfjsTarget(d, (m) => (m.modelTopology.config.layers[1].class_name = "MyLambda")) },
  { id: "C09", input: "--layers naming a value the encoders lack", code: "invalid_config", prepare: (d) => [...inputs(d), "--layers", "no_such_value"] },
  {
    id: "C10",
    input: "--target TF.js model .tar with a ../weights.bin member",
    code: "archive_unsafe",
    prepare: (d) => tfjsArchiveTarget(d, "model.tar", (json, w) => writeTar([{ name: "model.json", data: json }, { name: "../weights.bin", data: w }])),
  },
  {
    id: "C11",
    input: "--target TF.js model .zip whose weight shard lies outside model.json's folder",
    code: "model_invalid",
    prepare: (d) => tfjsArchiveTarget(d, "model.zip", (json, w) => writeZip([{ name: "m/model.json", data: json }, { name: "weights.bin", data: w }])),
  },
  {
    id: "C12",
    input: "--target TF.js model .zip whose shard declares 1 GiB more than it holds (a bomb: refused from the index, never inflated)",
    code: "archive_too_large",
    prepare: (d) => tfjsArchiveTarget(d, "model.zip", (json, w) => writeZip([{ name: "model.json", data: json }, { name: "weights.bin", data: w, declaredSize: w.length + 2 ** 30 }])),
  },
  {
    id: "C13",
    input: "--target TF.js GraphModel with an op TF.js does not know (a custom op)",
    code: "model_unsupported",
    prepare: (d) => graphModelTarget(d, (m) => (m.modelTopology.node.find((n: { op: string }) => n.op === "Relu").op = "MyCustomOp")),
  },
  {
    id: "C14",
    input: "--target TF.js GraphModel whose input is 100000×100000 pixels",
    code: "model_unsupported",
    prepare: (d) => graphModelTarget(d, (m) => (m.modelTopology.node[0].attr.shape.shape.dim = [-1, 100000, 100000, 3].map((n) => ({ size: String(n) })))),
  },
];
