/** Reading a saved JSON report (`sslmem gate`, `sslmem report`), with messages that say what to pass. */
import { readFile } from "node:fs/promises";
import { ReportV1Schema, type ReportV1 } from "../core/report.ts";
import { SslmemError } from "../core/errors.ts";

export async function loadReport(path: string): Promise<ReportV1> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new SslmemError("invalid_config", `cannot read report '${path}'; pass the JSON report written by 'sslmem audit -o report.json'`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const looksHtml = /^\s*<(!doctype|html)/i.test(text);
    throw new SslmemError(
      "invalid_config",
      `'${path}' is not JSON${looksHtml ? " (it is an HTML report)" : ""}; pass the JSON report written by 'sslmem audit -o report.json'`,
    );
  }
  const parsed = ReportV1Schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SslmemError("invalid_config", `'${path}' is not an sslmem.report/v1 document (${first.path.join(".") || "root"}: ${first.message})`);
  }
  return parsed.data;
}
