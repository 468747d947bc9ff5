/**
 * `hf://<owner>/<repo>/<path>@<revision>` through @huggingface/hub, with the guarded fetch as its
 * fetch (so allowlist, address checks and redirects apply to the Hub and its CDN alike):
 * `modelInfo` resolves a branch or tag to its full commit sha (GET /api/models/{repo}/revision/{rev}),
 * `fileDownloadInfo` reads the file's size and ETag at that commit (GET /{repo}/resolve/{sha}/{path});
 * for LFS files the ETag is the sha256 of the content, which then verifies the download.
 * (repo, commit, path) is immutable, so it is cached: a second audit of that commit downloads nothing.
 */
import { HubApiError, fileDownloadInfo, modelInfo } from "@huggingface/hub";
import type { SourceIdentity } from "../core/source-identity.ts";
import { SslmemError, isSslmemError } from "../core/errors.ts";
import type { SourceContext } from "./context.ts";
import { alreadyStored, ingestResponse } from "./ingest.ts";
import type { SourceReference } from "./reference.ts";
import { failForStatus } from "./source-failure.ts";

type HfReference = Extract<SourceReference, { scheme: "hf" }>;

function hubFailure(e: unknown, what: string, where: string): SslmemError {
  if (isSslmemError(e)) return e;
  if (e instanceof HubApiError) {
    const s = e.statusCode;
    if (s === 401 || s === 403) return new SslmemError("source_auth_failed", `${where} refused access to ${what} (HTTP ${s}); check SSLMEM_HF_TOKEN`, { status: s });
    if (s === 404) return new SslmemError("source_not_found", `${where} has no ${what}`, { status: s });
    return new SslmemError("source_unreachable", `${where} answered HTTP ${s} for ${what}; retry later`, { status: s });
  }
  return new SslmemError("source_unreachable", `${where} sent an unexpected answer for ${what}`, undefined, { cause: e });
}

export async function resolveHf(ctx: SourceContext, ref: HfReference): Promise<SourceIdentity> {
  const where = `the Hugging Face Hub at ${new URL(ctx.hf.endpoint).host}`;
  const common = { hubUrl: ctx.hf.endpoint, fetch: ctx.fetch as typeof fetch, ...(ctx.hf.token ? { accessToken: ctx.hf.token } : {}) };
  let commit: string | undefined;
  try {
    const info = await modelInfo({ ...common, name: ref.repo, revision: ref.revision, additionalFields: ["sha"] });
    commit = (info as { sha?: unknown }).sha as string | undefined;
  } catch (e) {
    throw hubFailure(e, `revision '${ref.revision}' of ${ref.repo}`, where);
  }
  if (typeof commit !== "string" || !/^[0-9a-f]{40}$/.test(commit)) {
    throw new SslmemError("source_unreachable", `${where} did not give a commit sha for revision '${ref.revision}' of ${ref.repo}`);
  }
  const resolved = `hf://${ref.repo}/${ref.path}@${commit}`;
  const identity = (stored: { digest: string; size: number }): SourceIdentity => ({
    uri: ref.uri,
    scheme: "hf",
    resolved,
    commit: commit!,
    file: ref.path,
    digest: stored.digest,
    size: stored.size,
  });
  const locator = `hf:${ctx.hf.endpoint}|${resolved}`;
  const cached = await ctx.cache.get(locator);
  if (cached && (await alreadyStored(ctx, cached.digest))) return identity(cached);

  let info;
  try {
    info = await fileDownloadInfo({ ...common, repo: ref.repo, path: ref.path, revision: commit });
  } catch (e) {
    throw hubFailure(e, `${ref.path} at ${commit.slice(0, 12)}`, where);
  }
  if (info === null) throw new SslmemError("source_not_found", `${ref.repo} has no file ${ref.path} at commit ${commit.slice(0, 12)}`);
  if (info.size > ctx.maxBytes) throw new SslmemError("source_too_large", `${resolved} is larger than this server's limit of ${ctx.maxBytes} bytes`);
  // An LFS file's ETag is its sha256: the download is verified against it.
  const lfs = /^(?:W\/)?"?([0-9a-f]{64})"?$/.exec(info.etag);
  const expectedDigest = lfs ? `sha256:${lfs[1]}` : undefined;
  if (expectedDigest) {
    const stored = await alreadyStored(ctx, expectedDigest);
    if (stored) {
      await ctx.cache.set(locator, stored);
      return identity(stored);
    }
  }
  const res = await ctx.fetch(info.url, { headers: ctx.hf.token ? { authorization: `Bearer ${ctx.hf.token}` } : {} });
  if (!res.ok) await failForStatus(res, `${ref.path} at ${commit.slice(0, 12)}`, where);
  const stored = await ingestResponse(ctx, res, { what: resolved, ...(expectedDigest ? { expectedDigest } : {}) });
  await ctx.cache.set(locator, stored);
  return identity(stored);
}
