/**
 * `https://…#sha256=<hex>`: the pin is the identity. With a pin already in the blob store nothing
 * is downloaded. Without a pin (only when the caller allows it) the identity is whatever the bytes
 * hashed to at this moment, and the report says so by its missing pin.
 */
import type { SourceIdentity } from "../core/source-identity.ts";
import { SslmemError } from "../core/errors.ts";
import type { SourceContext } from "./context.ts";
import { describeUrl } from "./guarded-fetch.ts";
import { alreadyStored, ingestResponse } from "./ingest.ts";
import type { SourceReference } from "./reference.ts";
import { failForStatus } from "./source-failure.ts";

type HttpsReference = Extract<SourceReference, { scheme: "https" }>;

export async function resolveHttps(ctx: SourceContext, ref: HttpsReference, allowUnpinned: boolean): Promise<SourceIdentity> {
  if (ref.pin === undefined && !allowUnpinned) {
    throw new SslmemError(
      "source_invalid",
      `${describeUrl(ref.url)} has no pin: append #sha256=<hex of the file> (or allow unpinned references explicitly)`,
    );
  }
  const file = decodeURIComponent(ref.url.pathname.split("/").pop() ?? "");
  const identity = (stored: { digest: string; size: number }): SourceIdentity => ({
    uri: ref.uri,
    scheme: "https",
    resolved: `${ref.url.href}#sha256=${stored.digest.slice(7)}`,
    ...(file ? { file } : {}),
    digest: stored.digest,
    size: stored.size,
  });
  if (ref.pin) {
    const cached = await alreadyStored(ctx, ref.pin);
    if (cached) return identity(cached);
  }
  const res = await ctx.fetch(ref.url, { headers: { accept: "*/*" } });
  if (!res.ok) await failForStatus(res, "file", describeUrl(ref.url));
  const stored = await ingestResponse(ctx, res, { what: describeUrl(ref.url), ...(ref.pin ? { expectedDigest: ref.pin } : {}) });
  return identity(stored);
}
