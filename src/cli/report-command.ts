/**
 * `sslmem report REPORT.json -o report.html [--candidates PATH]`: re-renders a saved JSON report in
 * any format (thumbnails in HTML when the candidates are given), without rerunning the audit.
 */
import { EXIT, UsageError } from "./errors.ts";
import { parseOutputs } from "./audit-args.ts";
import { needsThumbnails, writeOutputs } from "./outputs.ts";
import { parseStrict } from "./parse-flags.ts";
import { loadReport } from "./report-file.ts";
import { thumbnailsFromPath } from "./thumbnails.ts";

const OPTIONS = {
  output: { type: "string", short: "o", multiple: true },
  format: { type: "string" },
  candidates: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const HELP = `sslmem report — re-render a saved JSON report

Usage: sslmem report REPORT.json [-o FILE]... [--format FMT] [--candidates PATH]

  -o, --output [FMT=]FILE  write a format (from the extension: .json .html .xml .sarif .csv .txt); repeatable
  --format FMT             format of stdout when no -o is given (default table)
  --candidates PATH        the audited candidates, for thumbnails in the HTML report
`;

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseStrict("report", argv, OPTIONS, true);
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError("pass exactly one report file (see 'sslmem report --help')");
  const outputs = parseOutputs(values.output, values.format);
  const report = await loadReport(positionals[0]);
  const thumbnails = values.candidates && needsThumbnails(outputs) ? await thumbnailsFromPath(values.candidates, report) : undefined;
  await writeOutputs(report, outputs, { thumbnails, summary: null });
  return EXIT.ok;
}
