/**
 * `sslmem units`: UnitMem of one encoder's units over the candidates (no reference encoder).
 * Writes the UnitMem report as a terminal summary, JSON or HTML (with thumbnails of the points
 * the top units single out). Exit 0 on success, 1 on error.
 */
import { readFile, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import { UnitMemConfigSchema, UnitMemReportSchema, type UnitMemConfigInput, type UnitMemReport } from "../core/unitmem-report.ts";
import { openPointSet } from "../data/sources.ts";
import type { PointSet } from "../data/point-set.ts";
import type { ProviderPreference } from "../engine/providers.ts";
import { ProviderPreferenceSchema } from "../engine/providers.ts";
import { runUnitMem } from "../engine/units.ts";
import { makeThumbnail } from "../report/thumbnails.ts";
import { renderUnitMemHtml, renderUnitMemText, unitMemThumbnailIds } from "../report/unitmem-html.ts";
import { isSourceReference } from "../sources/reference.ts";
import { augmentSetting, formatZodIssues, inputSize, type ClientEnv } from "./audit-args.ts";
import { onInterrupt } from "./interrupt.ts";
import type { RemoteUnitsCommand } from "./remote-units.ts";
import { num, pair, triple } from "./parse-flags.ts";
import { EXIT, UsageError } from "./errors.ts";
import { createProgress } from "./progress.ts";

const UNIT_FORMATS = ["table", "json", "html"] as const;
type UnitFormat = (typeof UNIT_FORMATS)[number];

export const UNITS_HELP = `sslmem units — UnitMem: which units of an encoder single out one image

Usage:
  sslmem units --encoder F.onnx --candidates PATH [options]

  --encoder FILE           the encoder (ONNX); no reference is needed
  --candidates PATH        directory of images, .tar, .tar.gz, .zip, or .npy uint8 [N,H,W,C] (≥ 2 points)
  --layers auto|NAMES      layers whose units are scored (default auto: block outputs, see README)
  --views K                augmented views per point (default 16)
  --seed S --augment P     view randomness and policy, as for 'sslmem audit' (default 0, simclr)
  --baseline median|mean   μ of the other points (default median, as the authors' code)
  --top N                  units listed (default 20)
  --normalize PRESET       imagenet|clip|half|unit|none (or --mean/--std, or the model's sslmem.* metadata)
  --input-size HxW --layout NCHW|NHWC --range LO,HI --mean a,b,c --std a,b,c --output-name NAME
  --batch-size B --providers LIST --threads N
  --server URL --token T   run it on an sslmem server (a kind=unitmem audit; env SSLMEM_SERVER / SSLMEM_TOKEN)
  --format table|json|html format of stdout / of -o FILE (default table)
  -o, --output [FMT=]FILE  write the report; repeatable
  -q, --quiet              no progress output
`;

const OPTIONS = {
  encoder: { type: "string" },
  candidates: { type: "string" },
  layers: { type: "string" },
  views: { type: "string" },
  seed: { type: "string" },
  augment: { type: "string" },
  baseline: { type: "string" },
  top: { type: "string" },
  "input-size": { type: "string" },
  layout: { type: "string" },
  range: { type: "string" },
  normalize: { type: "string" },
  mean: { type: "string" },
  std: { type: "string" },
  "output-name": { type: "string" },
  "batch-size": { type: "string" },
  providers: { type: "string" },
  threads: { type: "string" },
  server: { type: "string" },
  token: { type: "string" },
  format: { type: "string" },
  output: { type: "string", short: "o", multiple: true },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

interface UnitOutput {
  format: UnitFormat;
  file?: string;
}

function outputs(values: string[] | undefined, format: string | undefined): UnitOutput[] {
  const isFormat = (f: string): f is UnitFormat => (UNIT_FORMATS as readonly string[]).includes(f);
  const fallback = format ?? "table";
  if (!isFormat(fallback)) throw new UsageError(`--format must be one of ${UNIT_FORMATS.join(", ")}; got '${format}'`);
  if (!values || values.length === 0) return [{ format: fallback }];
  return values.map((v) => {
    if (isFormat(v)) return { format: v };
    const eq = v.indexOf("=");
    const head = v.slice(0, eq);
    if (eq > 0 && isFormat(head)) return { format: head, file: v.slice(eq + 1) || undefined };
    return { format: fallback, file: v };
  });
}

async function writeReport(report: UnitMemReport, targets: readonly UnitOutput[], thumbs: Map<string, string> | undefined): Promise<void> {
  for (const target of targets) {
    const text =
      target.format === "json" ? JSON.stringify(UnitMemReportSchema.parse(report), null, 2) + "\n" : target.format === "html" ? renderUnitMemHtml(report, { thumbnails: thumbs }) : renderUnitMemText(report);
    if (!target.file || target.file === "-") process.stdout.write(text);
    else {
      try {
        await writeFile(target.file, text);
      } catch (e) {
        throw new SslmemError("invalid_config", `cannot write the ${target.format} report to '${target.file}' (${(e as NodeJS.ErrnoException).code ?? "error"})`);
      }
    }
  }
}

/** A remote run: the report from the server, thumbnails from the local candidates when they are a path. */
async function unitsOnServer(cmd: RemoteUnitsCommand, targets: readonly UnitOutput[]): Promise<number> {
  const { runRemoteUnits } = await import("./remote-units.ts");
  const interrupt = onInterrupt();
  try {
    const report = await runRemoteUnits(cmd, interrupt.signal);
    let thumbs: Map<string, string> | undefined;
    if (targets.some((t) => t.format === "html") && !isSourceReference(cmd.candidates)) {
      const set = await openPointSet(cmd.candidates);
      try {
        thumbs = await thumbnails(set, report);
      } finally {
        await set.close();
      }
    }
    await writeReport(report, targets, thumbs);
    return EXIT.ok;
  } catch (e) {
    if (interrupt.interrupted) {
      process.stderr.write("sslmem: UnitMem audit interrupted; no report written (exit 130)\n");
      return EXIT.interrupted;
    }
    throw e;
  } finally {
    interrupt.dispose();
  }
}

async function thumbnails(set: PointSet, report: UnitMemReport): Promise<Map<string, string>> {
  const wanted = new Set(unitMemThumbnailIds(report));
  const out = new Map<string, string>();
  for (let i = 0; i < set.size && out.size < wanted.size; i++) if (wanted.has(set.ids[i])) out.set(set.ids[i], await makeThumbnail(await set.load(i)));
  return out;
}

export async function unitsCommand(argv: string[], env: ClientEnv = process.env): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem units --help')`);
  }
  if (values.help) {
    process.stdout.write(UNITS_HELP);
    return EXIT.ok;
  }
  for (const req of ["encoder", "candidates"] as const) if (!values[req]) throw new UsageError(`--${req} is required (see 'sslmem units --help')`);
  const s = (k: string) => values[k] as string | undefined;
  const preprocessing = { inputSize: inputSize(s("input-size")), layout: s("layout"), normalize: s("normalize"), range: pair("range", s("range")), mean: triple("mean", s("mean")), std: triple("std", s("std")) };
  const layers = s("layers");
  const raw = {
    views: num("views", s("views")),
    seed: num("seed", s("seed")),
    augment: augmentSetting(s("augment")),
    preprocessing: Object.fromEntries(Object.entries(preprocessing).filter(([, x]) => x !== undefined)),
    outputName: s("output-name"),
    layers: layers === undefined ? undefined : layers.trim() === "auto" ? "auto" : layers.split(",").map((x) => x.trim()),
    baseline: s("baseline"),
    top: num("top", s("top")),
    batchSize: num("batch-size", s("batch-size")),
  };
  const parsed = UnitMemConfigSchema.safeParse(Object.fromEntries(Object.entries(raw).filter(([, x]) => x !== undefined)) as UnitMemConfigInput);
  if (!parsed.success) throw new SslmemError("invalid_config", formatZodIssues(parsed.error));
  const providerList = s("providers")?.split(",").map((x) => x.trim()).filter(Boolean);
  const providers = ProviderPreferenceSchema.safeParse(providerList && providerList.length ? providerList : "auto");
  if (!providers.success) throw new UsageError("--providers takes a comma-separated list of cuda, tensorrt, webgpu, dml, coreml, cpu");
  const threads = num("threads", s("threads"));
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) throw new UsageError("--threads takes an integer from 1 to 256");
  const targets = outputs(values.output as string[] | undefined, s("format"));
  const server = s("server") ?? (env.SSLMEM_SERVER || undefined);
  if (server !== undefined) {
    return unitsOnServer({ server, token: s("token") ?? (env.SSLMEM_TOKEN || undefined), encoder: s("encoder")!, candidates: s("candidates")!, config: parsed.data, quiet: Boolean(values.quiet) }, targets);
  }

  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(s("encoder")!));
  } catch {
    throw new SslmemError("model_not_found", `--encoder '${s("encoder")}': it cannot be read; pass the path of an ONNX file`);
  }
  let set: PointSet;
  try {
    set = await openPointSet(s("candidates")!);
  } catch (e) {
    if (isSslmemError(e)) throw new SslmemError(e.code, `--candidates '${s("candidates")}': ${e.message}`, e.details);
    throw e;
  }
  const quiet = Boolean(values.quiet);
  const progress = createProgress({ quiet });
  try {
    const { report } = await runUnitMem(
      bytes,
      set,
      parsed.data,
      { providers: providers.data as ProviderPreference, threads, onProgress: (done, total) => progress.update("units", done, total) },
      { id: `local-${randomUUID()}`, created: new Date() },
    );
    progress.done(`UnitMem of ${report.layers.reduce((n, l) => n + l.units, 0)} units over ${set.size} points`);
    const thumbs = targets.some((t) => t.format === "html") ? await thumbnails(set, report) : undefined;
    await writeReport(report, targets, thumbs);
    return EXIT.ok;
  } finally {
    progress.done();
    await set.close();
  }
}
