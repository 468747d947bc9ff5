/**
 * `sslmem gate REPORT.json [--gate evidence] [--fail-on-flagged N] [--require-calibrated] [--strict]`:
 * re-applies a gate to a saved JSON report, offline, with the same decision as `sslmem audit`.
 */
import { EXIT, EXIT_CODES_HELP, UsageError } from "./errors.ts";
import { applyGate, GATE_HELP, GATE_OPTIONS, gateSpecFromFlags, hasGate } from "./gate.ts";
import { parseStrict } from "./parse-flags.ts";
import { loadReport } from "./report-file.ts";

const OPTIONS = { ...GATE_OPTIONS, help: { type: "boolean", short: "h" } } as const;

const HELP = `sslmem gate — re-apply a gate to a saved JSON report, offline

Usage: sslmem gate REPORT.json [--gate evidence [--level L]] [--fail-on-flagged N] [--require-calibrated] [--strict]

${GATE_HELP}

${EXIT_CODES_HELP}
`;

export async function gateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseStrict("gate", argv, OPTIONS, true);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("pass exactly one report file (see 'sslmem gate --help')");
  const spec = gateSpecFromFlags(values);
  if (!hasGate(spec)) throw new UsageError("no gate given: pass --gate evidence, --fail-on-flagged N, --require-calibrated or --strict (see 'sslmem gate --help')");
  const report = await loadReport(positionals[0]);
  return applyGate(report, spec);
}
