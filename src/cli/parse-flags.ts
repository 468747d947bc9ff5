/**
 * Flag parsing for every command: node:util parseArgs in strict mode, with its errors rewritten
 * into one line that names the flag and, for a typo, suggests the nearest known flag.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Levenshtein distance (small strings: flag names). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

/** The known flag nearest to `typed` (`--fial-on-flagged` → `--fail-on-flagged`), if one is close. */
export function suggestFlag(typed: string, options: Options): string | undefined {
  const name = typed.replace(/^-+/, "").split("=")[0];
  let best: { flag: string; d: number } | undefined;
  for (const known of Object.keys(options)) {
    const d = editDistance(name, known);
    if (!best || d < best.d) best = { flag: known, d };
  }
  if (!best) return undefined;
  const tolerance = Math.max(1, Math.floor(best.flag.length / 3));
  return best.d <= tolerance ? `--${best.flag}` : undefined;
}

/** Node's parseArgs error as one line about the flag (its own text advises about positionals). */
export function describeParseError(e: unknown, options: Options): string {
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? "";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const flag = quoted.split(" ")[0];
      const hint = suggestFlag(flag, options);
      return `unknown option '${flag}'${hint ? ` — did you mean ${hint}?` : ""}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0];
      if (/argument missing/.test(message)) return `${flag} needs a value`;
      if (/ambiguous/.test(message)) return `${flag} needs a value; a value starting with '-' is written ${flag}=VALUE`;
      return `${flag} takes no value`;
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${quoted}'; every input is given by a flag`;
    default:
      return message.split("\n")[0].split(". ")[0];
  }
}

export function parseStrict<O extends Options>(command: string, argv: string[], options: O, allowPositionals: boolean) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(`${describeParseError(e, options)} (see 'sslmem ${command} --help')`);
  }
}

// ---- flag values ----------------------------------------------------------------------------

export function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${flag} must be a number, got '${v}'`);
  return n;
}

export function triple(flag: string, v: string | undefined): [number, number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) {
    throw new UsageError(`--${flag} takes three comma-separated numbers on the [0,1] scale, e.g. 0.485,0.456,0.406`);
  }
  return parts as [number, number, number];
}

export function pair(flag: string, v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x))) throw new UsageError(`--${flag} takes two comma-separated numbers, e.g. 0,255`);
  return parts as [number, number];
}
