/**
 * Writing an audit's verdict back to the MLflow model version it audited, through the REST API:
 *   POST /api/2.0/mlflow/model-versions/set-tag        sslmem.verdict, sslmem.flagged, sslmem.audit, sslmem.report
 *   POST /api/2.0/mlflow/registered-models/alias       on pass only: move the configured alias (e.g. `audited`)
 * Every call sets a value, so repeating a write-back changes nothing (idempotent).
 * The verdict is an input: it is decided by the gate (the CLI's exit code rules), not here.
 */
import { SslmemError } from "../core/errors.ts";
import type { SourceContext } from "../sources/context.ts";
import { failForStatus } from "../sources/source-failure.ts";

export interface MlflowVerdict {
  verdict: "pass" | "fail" | "inconclusive";
  flagged: number;
  auditId: string;
  reportUrl: string;
}

export async function writeMlflowVerdict(
  ctx: SourceContext,
  version: { name: string; version: string },
  result: MlflowVerdict,
  o: { alias?: string } = {},
): Promise<{ tags: string[]; alias?: string }> {
  if (!ctx.mlflow) throw new SslmemError("source_invalid", "writing back to MLflow needs SSLMEM_MLFLOW_URI");
  const { uri, token } = ctx.mlflow;
  const where = `the MLflow server ${uri.host}`;
  const post = async (path: string, body: Record<string, string>, what: string) => {
    const url = new URL(`${uri.pathname.replace(/\/+$/, "")}${path}`, uri);
    const res = await ctx.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (!res.ok) await failForStatus(res, what, where);
    await res.body?.cancel().catch(() => undefined);
  };
  const tags: Record<string, string> = {
    "sslmem.verdict": result.verdict,
    "sslmem.flagged": String(result.flagged),
    "sslmem.audit": result.auditId,
    "sslmem.report": result.reportUrl,
  };
  for (const [key, value] of Object.entries(tags)) {
    await post("/api/2.0/mlflow/model-versions/set-tag", { name: version.name, version: version.version, key, value }, `tag ${key} of version ${version.version} of '${version.name}'`);
  }
  if (result.verdict === "pass" && o.alias) {
    await post("/api/2.0/mlflow/registered-models/alias", { name: version.name, alias: o.alias, version: version.version }, `alias '${o.alias}' of '${version.name}'`);
    return { tags: Object.keys(tags), alias: o.alias };
  }
  return { tags: Object.keys(tags) };
}
