/**
 * A handful of the hostile inputs through the CLI (`sslmem audit`, local engine): exit 1, one line
 * on stderr naming the code, nothing on stdout, no stack trace.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ErrorCode } from "../../../src/core/errors.ts";
import { pngBomb } from "../../helpers/data-png.ts";
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

export const CLI_CASES: CliCase[] = [
  { id: "C01", input: "--target is a text file", code: "model_invalid", prepare: (d) => inputs(d, { target: Buffer.from("not a model\n") }) },
  { id: "C02", input: "--target has an external-data tensor at ../../etc/passwd", code: "model_unsupported", prepare: (d) => inputs(d, { target: externalDataModel() }) },
  { id: "C03", input: "--candidates tar with a ../x.png member", code: "archive_unsafe", prepare: (d) => inputs(d, { candidates: tarWithValid({ name: "../x.png", data: noisePng(8, 8, 2) }) }) },
  { id: "C04", input: "--candidates folder holding a 50000×50000 PNG header", code: "image_too_large", prepare: (d) => inputs(d, { candidates: "dir-with-bomb" }) },
  { id: "C05", input: "--views 0", code: "invalid_config", prepare: (d) => [...inputs(d), "--views", "0"] },
];
