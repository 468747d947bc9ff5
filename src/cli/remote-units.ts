/**
 * `sslmem units --server URL --token T`: a UnitMem audit (kind `unitmem`) on the service — the
 * encoder and candidates uploaded by digest (or passed as references), followed to its end like
 * `sslmem audit --server`, and its `sslmem.unitmem/v1` report downloaded for the caller to write.
 */
import { SslmemError } from "../core/errors.ts";
import { UnitMemReportSchema, type UnitMemConfig, type UnitMemReport } from "../core/unitmem-report.ts";
import { isSourceReference } from "../sources/reference.ts";
import { Client, ensureBlob, fileOrDirectory, submitAndFollow } from "./remote-audit.ts";

export interface RemoteUnitsCommand {
  server: string;
  token: string | undefined;
  encoder: string;
  candidates: string;
  config: UnitMemConfig;
  quiet: boolean;
}

export async function runRemoteUnits(cmd: RemoteUnitsCommand, signal?: AbortSignal): Promise<UnitMemReport> {
  const client = new Client(cmd.server, cmd.token);
  const log = (s: string) => {
    if (!cmd.quiet) process.stderr.write(`${s}\n`);
  };
  // The encoder travels in the target role of the upload helpers (a model, not a point set).
  const encoder = isSourceReference(cmd.encoder) ? cmd.encoder : await ensureBlob(client, await fileOrDirectory(cmd.encoder, "target"), log);
  const candidates = isSourceReference(cmd.candidates) ? cmd.candidates : await ensureBlob(client, await fileOrDirectory(cmd.candidates, "candidates"), log);
  const audit = await submitAndFollow(client, { kind: "unitmem", encoder, candidates, config: cmd.config }, { quiet: cmd.quiet, log, ...(signal ? { signal } : {}) });
  const res = await client.request("GET", `/v1/audits/${audit.id}/report?format=json`, { headers: { accept: "application/json" } });
  if (res.status !== 200) await client.fail(res, "downloading the UnitMem report");
  const parsed = UnitMemReportSchema.safeParse(await res.json());
  if (!parsed.success) throw new SslmemError("internal", "the server's report does not match sslmem.unitmem/v1; check that client and server versions match");
  return parsed.data;
}
