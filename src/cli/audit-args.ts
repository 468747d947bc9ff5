/**
 * `sslmem audit` flags → an AuditConfig plus where the inputs and outputs are.
 * Validation of values happens once, in AuditConfigSchema; this file only maps flag syntax.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { AuditConfigSchema, type AuditConfig, type AuditConfigInput } from "../core/audit-config.ts";
import { PRESET_NAMES } from "../core/policy.ts";
import { SslmemError } from "../core/errors.ts";
import { UsageError } from "./errors.ts";

export const OUTPUT_FORMATS = ["table", "json", "junit", "sarif", "html", "csv", "markdown", "codequality"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface OutputTarget {
  format: OutputFormat;
  /** undefined = stdout */
  file?: string;
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
  failOnFlagged?: number;
  server?: string;
  token?: string;
  providers?: string[];
  threads?: number;
  quiet: boolean;
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
  range: { type: "string" },
  mean: { type: "string" },
  std: { type: "string" },
  pool: { type: "string" },
  "output-name": { type: "string" },
  flag: { type: "string" },
  fpr: { type: "string" },
  fdr: { type: "string" },
  threshold: { type: "string" },
  "robust-z": { type: "string" },
  "batch-size": { type: "string" },
  format: { type: "string" },
  output: { type: "string", short: "o", multiple: true },
  "fail-on-flagged": { type: "string" },
  server: { type: "string" },
  token: { type: "string" },
  providers: { type: "string" },
  threads: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got '${v}'`);
  return n;
}

function triple(flag: string, v: string | undefined): [number, number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) {
    throw new UsageError(`--${flag} takes three comma-separated numbers on the [0,1] scale, e.g. 0.485,0.456,0.406`);
  }
  return parts as [number, number, number];
}

function pair(flag: string, v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x))) throw new UsageError(`--${flag} takes two comma-separated numbers, e.g. 0,255`);
  return parts as [number, number];
}

function inputSize(v: string | undefined): { height: number; width: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)[xX](\d+)$/.exec(v.trim());
  if (!m) throw new UsageError(`--input-size takes HxW, e.g. 224x224; got '${v}'`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

function augmentSetting(v: string | undefined): unknown {
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

/** Parses `-o json=report.json`, `-o junit` (stdout), `-o report.json` (format from --format). */
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
    return { format: defaultFormat, file: v };
  });
}

export function formatZodIssues(e: z.ZodError): string {
  return e.issues
    .map((i) => {
      const at = i.path.length ? i.path.join(".") : "config";
      return `${at}: ${i.message}`;
    })
    .join("; ");
}

export function configFromFlags(v: Record<string, string | boolean | string[] | undefined>): AuditConfig {
  const s = (k: string) => v[k] as string | undefined;
  const preprocessing = {
    inputSize: inputSize(s("input-size")),
    layout: s("layout"),
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
    flag: s("flag"),
    fpr: num("fpr", s("fpr")),
    fdr: num("fdr", s("fdr")),
    threshold: num("threshold", s("threshold")),
    robustZ: num("robust-z", s("robust-z")),
    batchSize: num("batch-size", s("batch-size")),
  };
  const input = Object.fromEntries(Object.entries(raw).filter(([, x]) => x !== undefined)) as AuditConfigInput;
  const parsed = AuditConfigSchema.safeParse(input);
  if (!parsed.success) throw new SslmemError("invalid_config", formatZodIssues(parsed.error));
  return parsed.data;
}

export function parseAuditCommand(argv: string[]): AuditCommand | "help" {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: AUDIT_OPTIONS, allowPositionals: false, strict: true }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem audit --help')`);
  }
  if (values.help) return "help";
  for (const req of ["target", "reference", "candidates"] as const) {
    if (!values[req]) throw new UsageError(`--${req} is required (see 'sslmem audit --help')`);
  }
  const failOn = num("fail-on-flagged", values["fail-on-flagged"] as string | undefined);
  if (failOn !== undefined && (!Number.isInteger(failOn) || failOn < 0)) {
    throw new UsageError("--fail-on-flagged takes a non-negative integer: the gate trips when more points than this are flagged");
  }
  const threads = num("threads", values.threads as string | undefined);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) {
    throw new UsageError("--threads takes an integer from 1 to 256");
  }
  return {
    target: values.target as string,
    reference: values.reference as string,
    candidates: values.candidates as string,
    controls: values.controls as string | undefined,
    allowUnpinned: Boolean(values["allow-unpinned"]),
    config: configFromFlags(values),
    outputs: parseOutputs(values.output as string[] | undefined, values.format as string | undefined),
    failOnFlagged: failOn,
    server: values.server as string | undefined,
    token: values.token as string | undefined,
    providers: (values.providers as string | undefined)?.split(",").map((x) => x.trim()).filter(Boolean),
    threads,
    quiet: Boolean(values.quiet),
  };
}

export const AUDIT_HELP = `sslmem audit — score which images an SSL encoder memorized (SSLMem)

Usage:
  sslmem audit --target F.onnx --reference G.onnx --candidates PATH [options]

Inputs:
  --target FILE            encoder trained on the candidates (ONNX)
  --reference FILE         encoder that never saw the candidates (ONNX)
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
  --range LO,HI            value range the encoder expects (default 0,1)
  --mean a,b,c --std a,b,c per-channel normalization on the [0,1] scale
  --pool flatten|mean|cls  pooling of [N,T,D] / [N,C,H,W] outputs (default flatten)
  --output-name NAME       encoder output used as the representation (default: first)
  --batch-size B           points per batch (default 8)
  --providers LIST         execution providers, e.g. cuda,cpu (default: cuda if it loads, else cpu)
  --threads N              ONNX Runtime intra-op threads per encoder

Flags:
  --flag fpr|fdr|robust|threshold   default fpr with controls, robust without
  --fpr A                  α for fpr (default 0.01)
  --fdr Q                  q for fdr (default 0.05)
  --threshold T            t for threshold, on scoreNormalized

Output and gate:
  --format table|json|csv|junit|sarif|html|markdown|codequality
                           format of stdout / of -o FILE (default table)
  -o, --output [FMT=]FILE  write a report; repeatable: -o json=report.json -o junit=junit.xml
  --fail-on-flagged N      exit 2 when more than N points are flagged
  --server URL --token T   run the audit on an sslmem server instead of locally
  -q, --quiet              no progress output

Exit codes: 0 gate passed, 2 gate tripped, 1 error.
`;
