/**
 * HTTP answers of a registry → the stable `source_*` codes. One mapping for every scheme, so a
 * 401 from MLflow and a 401 from an OCI registry mean the same to a caller.
 */
import { SslmemError } from "../core/errors.ts";

/** Throws the code matching a non-2xx status; `what` names the thing asked for, e.g. "model version 3". */
export async function failForStatus(res: Response, what: string, where: string): Promise<never> {
  await res.body?.cancel().catch(() => undefined);
  const s = res.status;
  if (s === 401 || s === 403) {
    throw new SslmemError("source_auth_failed", `${where} refused access to ${what} (HTTP ${s}); check the credentials configured for it`, { status: s });
  }
  if (s === 404) throw new SslmemError("source_not_found", `${where} has no ${what} (HTTP 404)`, { status: s });
  throw new SslmemError("source_unreachable", `${where} answered HTTP ${s} for ${what}; retry later`, { status: s });
}

/** Reads a small JSON answer (an API response, a manifest), bounded so a hostile server cannot exhaust memory. */
export async function readJson(res: Response, where: string, maxBytes = 4 * 1024 * 1024): Promise<{ json: unknown; bytes: Buffer }> {
  const bytes = await readBounded(res, where, maxBytes);
  try {
    return { json: JSON.parse(bytes.toString("utf8")), bytes };
  } catch {
    throw new SslmemError("source_unreachable", `${where} did not answer with JSON`);
  }
}

export async function readBounded(res: Response, where: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new SslmemError("source_too_large", `${where} sent more than ${maxBytes} bytes of metadata`);
      chunks.push(Buffer.from(chunk));
    }
  } catch (e) {
    if (e instanceof SslmemError) throw e;
    throw new SslmemError("source_unreachable", `${where} stopped sending (${(e as Error).message})`, undefined, { cause: e });
  }
  return Buffer.concat(chunks);
}
