/**
 * `sslmem audit` flags → an AuditConfig plus where the inputs and outputs are.
 * Validation of values happens once, in AuditConfigSchema; this file only maps flag syntax.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { AuditConfigSchema, type AuditConfig, type AuditConfigInput } from "../core/audit-config.ts";
import { PRESET_NAMES } from "../core/policy.ts";
import { SslmemError } from "../core/errors.ts";
import { parseMemorySize } from "../engine/memory.ts";
import { EXIT_CODES_HELP, UsageError } from "./errors.ts";
import { num, pair, parseStrict, triple } from "./parse-flags.ts";
import { parseProviders } from "./provider-advice.ts";
import type { ProviderName } from "../engine/providers.ts";
import { GATE_HELP, GATE_OPTIONS, gateSpecFromFlags, type GateSpec } from "./gate.ts";

export const OUTPUT_FORMATS = ["table", "json", "junit", "sarif", "html", "csv", "markdown", "codequality"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputTarget {
  format: OutputFormat;
  /** undefined = stdout */
  file?: string;
}

/** Formats a file name implies (`-o report.html`); the longest matching suffix wins. */
const FORMAT_OF_EXTENSION: Array<[string, OutputFormat]> = [
  [".sarif.json", "sarif"],
  [".junit.xml", "junit"],
  [".sarif", "sarif"],
  [".json", "json"],
  [".html", "html"],
  [".htm", "html"],
  [".xml", "junit"],
  [".csv", "csv"],
  [".md", "markdown"],
  [".markdown", "markdown"],
  [".txt", "table"],
];

export function formatOfFile(file: string): OutputFormat | undefined {
  const lower = file.toLowerCase();
  return FORMAT_OF_EXTENSION.find(([ext]) => lower.endsWith(ext))?.[1];
}

export interface AuditCommand {
  target: string;
  reference: string;
  candidates: string;
  controls?: string;
  /** Accept https:// references without #sha256=… */
  allowUnpinned: boolean;
  config: AuditConfig;
  outputs: OutputTarget[];
  gate: GateSpec;
  server?: string;
  token?: string;
  providers?: ProviderName[];
  threads?: number;
  /** GPU ordinal (--device). */
  deviceId?: number;
  /** Bytes the audit may keep resident (--memory-budget); undefined = the engine's default. */
  memoryBudget?: number;
  quiet: boolean;
  /** A point that cannot be decoded mid-run: left out and named (skip, default) or the end of the run (fail). */
  onInvalid: "skip" | "fail";
  resume: boolean;
  checkpoint?: string;
  /** Check everything and measure a probe batch, then stop (= sslmem inspect). */
  dryRun: boolean;
  /** Folder for the encoders' representations of every view (embeddings-file.ts); local ONNX audits only. */
  embeddings?: string;
}

export const AUDIT_OPTIONS = {
  target: { type: "string" },
  reference: { type: "string" },
  candidates: { type: "string" },
  controls: { type: "string" },
  "allow-unpinned": { type: "boolean" },
  views: { type: "string" },
  seed: { type: "string" },
  augment: { type: "string" },
  pairing: { type: "string" },
  distance: { type: "string" },
  "input-size": { type: "string" },
  layout: { type: "string" },
  normalize: { type: "string" },
  range: { type: "string" },
  mean: { type: "string" },
  std: { type: "string" },
  pool: { type: "string" },
  "output-name": { type: "string" },
  layers: { type: "string" },
  flag: { type: "string" },
  fpr: { type: "string" },
  fdr: { type: "string" },
  threshold: { type: "string" },
  "robust-z": { type: "string" },
  precision: { type: "string" },
  "memory-budget": { type: "string" },
  device: { type: "string" },
  "batch-size": { type: "string" },
  "evidence-level": { type: "string" },
  format: { type: "string" },
  output: { type: "string", short: "o", multiple: true },
  ...GATE_OPTIONS,
  server: { type: "string" },
  token: { type: "string" },
  providers: { type: "string" },
  threads: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  "on-invalid": { type: "string" },
  resume: { type: "boolean" },
  checkpoint: { type: "string" },
  "dry-run": { type: "boolean" },
  embeddings: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export function inputSize(v: string | undefined): { height: number; width: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)[xX](\d+)$/.exec(v.trim());
  if (!m) throw new UsageError(`--input-size takes HxW, e.g. 224x224; got '${v}'`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

export function augmentSetting(v: string | undefined): unknown {
  if (v === undefined) return undefined;
  if ((PRESET_NAMES as readonly string[]).includes(v)) return v;
  if (v.endsWith(".json")) {
    let text: string;
    try {
      text = readFileSync(v, "utf8");
    } catch {
      throw new UsageError(`--augment: cannot read policy file '${v}'; pass a preset (${PRESET_NAMES.join(", ")}) or a readable JSON file`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new UsageError(`--augment: '${v}' is not valid JSON`);
    }
  }
  throw new UsageError(`--augment must be a preset (${PRESET_NAMES.join(", ")}) or a policy .json file; got '${v}'`);
}

/** `--layers auto` or `NAME[,NAME…]`, where a NAME may be `TARGET=REFERENCE`. */
export function layerSelection(v: string | undefined): unknown {
  if (v === undefined) return undefined;
  if (v.trim() === "auto") return "auto";
  return v.split(",").map((part) => {
    const eq = part.indexOf("=");
    return eq < 0 ? part.trim() : { target: part.slice(0, eq).trim(), reference: part.slice(eq + 1).trim() };
  });
}

/**
 * Parses `-o json=report.json`, `-o junit` (stdout), `-o report.html` (format from the extension;
 * an unknown extension takes --format when given, else it is refused rather than guessed).
 */
export function parseOutputs(values: string[] | undefined, format: string | undefined): OutputTarget[] {
  const defaultFormat = (format ?? "table") as OutputFormat;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(defaultFormat)) {
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(", ")}; got '${format}'`);
  }
  if (!values || values.length === 0) return [{ format: defaultFormat }];
  return values.map((v) => {
    // "-o junit" alone: that format on stdout.
    if ((OUTPUT_FORMATS as readonly string[]).includes(v)) return { format: v as OutputFormat };
    const eq = v.indexOf("=");
    if (eq > 0 && (OUTPUT_FORMATS as readonly string[]).includes(v.slice(0, eq))) {
      return { format: v.slice(0, eq) as OutputFormat, file: v.slice(eq + 1) || undefined };
    }
    if (eq > 0 && /^[a-z]+$/.test(v.slice(0, eq))) {
      throw new UsageError(`-o ${v}: unknown format '${v.slice(0, eq)}'; formats: ${OUTPUT_FORMATS.join(", ")}`);
    }
    const implied = formatOfFile(v);
    if (implied) return { format: implied, file: v };
    if (format !== undefined) return { format: defaultFormat, file: v };
    throw new UsageError(
      `-o ${v}: cannot tell the format from the file name; use an extension (.json .html .xml .sarif .csv .md .txt) or write -o FORMAT=${v} (formats: ${OUTPUT_FORMATS.join(", ")})`,
    );
  });
}

/** The CLI flag of a config path, so a message names what the user typed. */
const FLAG_OF_PATH: Record<string, string> = {
  "preprocessing.inputSize": "--input-size",
  "preprocessing.layout": "--layout",
  "preprocessing.normalize": "--normalize",
  "preprocessing.range": "--range",
  "preprocessing.mean": "--mean",
  "preprocessing.std": "--std",
  outputName: "--output-name",
  robustZ: "--robust-z",
  batchSize: "--batch-size",
};

export function flagOfPath(path: readonly PropertyKey[]): string {
  const key = path.filter((p) => typeof p === "string").join(".");
  if (FLAG_OF_PATH[key]) return FLAG_OF_PATH[key];
  const prefix = Object.keys(FLAG_OF_PATH).find((k) => key.startsWith(`${k}.`));
  if (prefix) return FLAG_OF_PATH[prefix];
  return key ? `--${key.split(".")[0]}` : "config";
}

/** Zod issues as CLI text: each names the flag it is about. */
export function formatZodIssues(e: z.ZodError): string {
  return e.issues.map((i) => `${flagOfPath(i.path)}: ${i.message}`).join("; ");
}

export function configFromFlags(v: Record<string, string | boolean | string[] | undefined>): AuditConfig {
  const s = (k: string) => v[k] as string | undefined;
  const preprocessing = {
    inputSize: inputSize(s("input-size")),
    layout: s("layout"),
    normalize: s("normalize"),
    range: pair("range", s("range")),
    mean: triple("mean", s("mean")),
    std: triple("std", s("std")),
  };
  const raw: Record<string, unknown> = {
    views: num("views", s("views")),
    seed: num("seed", s("seed")),
    augment: augmentSetting(s("augment")),
    pairing: s("pairing"),
    distance: s("distance"),
    preprocessing: Object.fromEntries(Object.entries(preprocessing).filter(([, x]) => x !== undefined)),
    pool: s("pool"),
    outputName: s("output-name"),
    layers: layerSelection(s("layers")),
    flag: s("flag"),
    fpr: num("fpr", s("fpr")),
    fdr: num("fdr", s("fdr")),
    threshold: num("threshold", s("threshold")),
    robustZ: num("robust-z", s("robust-z")),
    evidenceLevel: num("level", s("level")),
    batchSize: num("batch-size", s("batch-size")),
    precision: s("precision"),
  };
  const input = Object.fromEntries(Object.entries(raw).filter(([, x]) => x !== undefined)) as AuditConfigInput;
  const parsed = AuditConfigSchema.safeParse(input);
  if (!parsed.success) throw new SslmemError("invalid_config", formatZodIssues(parsed.error));
  return parsed.data;
}

/** Where the CLI looks for a server and token when --server / --token are not given. */
export interface ClientEnv {
  SSLMEM_SERVER?: string;
  SSLMEM_TOKEN?: string;
}

export function parseAuditCommand(argv: string[], env: ClientEnv = {}): AuditCommand | "help" {
  const values: Record<string, string | boolean | string[] | undefined> = parseStrict("audit", argv, AUDIT_OPTIONS, false).values;
  if (values.help) return "help";
  for (const req of ["target", "reference", "candidates"] as const) {
    if (!values[req]) throw new UsageError(`--${req} is required (see 'sslmem audit --help')`);
  }
  const gate = gateSpecFromFlags(values);
  const threads = num("threads", values.threads as string | undefined);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) {
    throw new UsageError("--threads takes an integer from 1 to 256");
  }
  const device = num("device", values.device as string | undefined);
  if (device !== undefined && (!Number.isInteger(device) || device < 0 || device > 255)) {
    throw new UsageError("--device takes a GPU ordinal from 0 to 255");
  }
  const budgetText = values["memory-budget"] as string | undefined;
  const memoryBudget = budgetText === undefined ? undefined : parseMemorySize(budgetText);
  if (budgetText !== undefined && (memoryBudget === undefined || memoryBudget < 64 * 2 ** 20)) {
    throw new UsageError("--memory-budget takes a size of at least 64M, e.g. 1.5G, 800M or 2GiB");
  }
  const server = (values.server as string | undefined) ?? (env.SSLMEM_SERVER || undefined);
  const embeddings = values.embeddings as string | undefined;
  if (embeddings !== undefined) checkEmbeddingsFlag(embeddings, { server, resume: Boolean(values.resume) });
  const onInvalid = (values["on-invalid"] as string | undefined) ?? "skip";
  if (onInvalid !== "skip" && onInvalid !== "fail") throw new UsageError(`--on-invalid takes skip (leave the file out and name it in the report) or fail; got '${onInvalid}'`);
  return {
    target: values.target as string,
    reference: values.reference as string,
    candidates: values.candidates as string,
    controls: values.controls as string | undefined,
    allowUnpinned: Boolean(values["allow-unpinned"]),
    config: configFromFlags(values),
    outputs: parseOutputs(values.output as string[] | undefined, values.format as string | undefined),
    gate,
    server,
    token: (values.token as string | undefined) ?? (env.SSLMEM_TOKEN || undefined),
    providers: parseProviders(values.providers as string | undefined),
    threads,
    ...(device !== undefined ? { deviceId: device } : {}),
    ...(memoryBudget !== undefined ? { memoryBudget } : {}),
    quiet: Boolean(values.quiet),
    onInvalid,
    resume: Boolean(values.resume),
    checkpoint: values.checkpoint as string | undefined,
    dryRun: Boolean(values["dry-run"]),
    ...(embeddings !== undefined ? { embeddings } : {}),
  };
}

/**
 * `--embeddings DIR` and what it cannot go with. An audit on a server returns no representations;
 * a resumed audit measured some points in an earlier run whose rows were not kept (the checkpoint
 * holds distances only), so its file would lack them.
 */
function checkEmbeddingsFlag(dir: string, others: { server?: string; resume: boolean }): void {
  if (dir.trim() === "") throw new UsageError("--embeddings takes a folder, e.g. --embeddings embeddings/");
  if (others.server !== undefined) {
    throw new UsageError("--embeddings writes the representations of a local audit; an audit on a server (--server or SSLMEM_SERVER) does not return them: run it without --server and with SSLMEM_SERVER unset");
  }
  if (others.resume) {
    throw new UsageError("--embeddings cannot resume: the interrupted run's representations were not kept (the checkpoint holds distances only); run the audit again without --resume");
  }
}

export const AUDIT_HELP = `sslmem audit — score which images an SSL encoder memorized (SSLMem)

Usage:
  sslmem audit --target F.onnx --reference G.onnx --candidates PATH [options]

Inputs:
  --target FILE            encoder trained on the candidates (ONNX, or a TF.js model.json directory)
  --reference FILE         encoder that never saw the candidates (ONNX or TF.js, as --target)
  --candidates PATH        directory of images (recursive), .tar, .tar.gz, .zip, or .npy uint8 [N,H,W,C]
  --controls PATH          points in neither training set (same forms); enables calibrated flags
  Each input may also be a reference, fetched once and cached by digest (~/.cache/sslmem):
    oci://REGISTRY/REPO:TAG or @sha256:…   models:/NAME/VERSION or models:/NAME@ALIAS
    hf://OWNER/REPO/PATH@REVISION          https://HOST/PATH#sha256=HEX
  --allow-unpinned         accept https:// references without #sha256=…

Measurement:
  --views K                view pairs per point (default 16)
  --seed S                 seed of the view randomness (default 0)
  --augment P              preset (simclr, byol, dino-global, mae, none) or policy.json (default simclr)
  --pairing views|original pairs of views (default) or original-vs-view (authors' code)
  --distance l2|cosine     distance on normalized embeddings (default l2)
  --input-size HxW         encoder input size (default: the model's static size)
  --layout NCHW|NHWC       input layout (default: from the model)
  --normalize PRESET       imagenet | clip | half | unit | none (see below)
  --mean a,b,c --std a,b,c per-channel normalization on the [0,1] scale (instead of a preset)
  --range LO,HI            value range before mean/std (default 0,1 when mean/std are given)
                           Normalization is never guessed: give --normalize, --mean/--std, or
                           stamp the models once ('sslmem stamp'); otherwise the audit is refused.
  --pool flatten|mean|cls  pooling of [N,T,D] / [N,C,H,W] outputs (default flatten up to 8192
                           values per image; wider outputs need an explicit --pool)
  --output-name NAME       encoder output used as the representation (default: first)
  --layers auto|NAMES      LayerMem: also score these layers (ONNX value names, comma-separated,
                           TARGET=REFERENCE when the encoders name them differently); auto = block
                           outputs (residual additions, else the activation after each conv/linear)
  --batch-size B           points per batch at most (default 8)
  --memory-budget SIZE     resident memory the audit may use, e.g. 1.5G, 800M (default 1.5G);
                           the batch size is planned from a measured probe batch
  --precision fp32|fp16    encoder arithmetic (default fp32; fp16 pays off on cuda/webgpu)
  --providers LIST         execution providers, e.g. cuda,cpu or webgpu (default: cuda if it loads, else cpu)
  --device N               GPU ordinal for cuda (default 0)
  --threads N              ONNX Runtime intra-op threads

Flags:
  --flag fpr|fdr|robust|threshold   default fpr with controls, robust without
  --fpr A                  α for fpr (default 0.01)
  --fdr Q                  q for fdr (default 0.05)
  --threshold T            t for threshold, on scoreNormalized

Output:
  --format table|json|csv|junit|sarif|html|markdown|codequality
                           format of stdout (default table)
  -o, --output [FMT=]FILE  write a report; the format comes from the extension (.json .html .xml
                           .sarif .csv .md .txt) or FMT= (codequality=FILE); repeatable:
                           -o report.json -o junit=junit.xml
                           With every output in files, the summary table goes to stderr on a TTY.
  --server URL --token T   run the audit on an sslmem server instead of locally
                           (default: the SSLMEM_SERVER and SSLMEM_TOKEN environment variables)
  -q, --quiet              no progress output

Bad files and interruptions (local audits):
  --on-invalid skip|fail   an image that cannot be decoded mid-run is left out and named in the
                           report (skip, default) or ends the run (fail)
  --checkpoint FILE        where measured points are kept while the audit runs (default: next to
                           the first -o file, FILE.checkpoint; none when all reports go to stdout)
  --resume                 continue an interrupted audit from its checkpoint (same command line)
  --dry-run                check everything and time a probe batch, then stop (= sslmem inspect):
                           both encoders' contract, every skipped or undecodable file, the plan, an ETA

Representations (local audits of ONNX encoders):
  --embeddings DIR         also write every view's representation under both encoders to DIR
                           (created if missing): target.npy and reference.npy, float32
                           [points, viewsPerPoint, dim] in C order (np.load(..., mmap_mode='r')),
                           and points.json: row i's id, role and whether it was measured, the
                           views per point, dim, pairing, distance and seed. Rows follow the
                           report's points (candidates, then controls) whatever --batch-size; a
                           row is the pooled output, before the distances' L2 normalization; a
                           point left out by --on-invalid skip has NaN rows. Refused with --server
                           (a server returns none), --resume (the first run's rows were not kept),
                           --dry-run / inspect (only a probe batch runs) and a TF.js encoder (its
                           measurement does not return representations)

${GATE_HELP}

Normalization presets (mean/std on the [0,1] scale):
  imagenet  range 0,1  mean 0.485,0.456,0.406  std 0.229,0.224,0.225 (torchvision models)
  clip      range 0,1  mean 0.48145466,0.4578275,0.40821073  std 0.26862954,0.26130258,0.27577711
  half      range 0,1  mean 0.5,0.5,0.5  std 0.5,0.5,0.5   (inputs on [-1,1])
  unit      range 0,1  no mean/std
  none      range 0,255, no mean/std (raw pixels)

${EXIT_CODES_HELP}
Ctrl-C stops the audit with a message and exit 130.
`;
