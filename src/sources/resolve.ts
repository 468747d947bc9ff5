/**
 * One entry point: a reference string → the identity of the bytes now in the blob store.
 */
import type { SourceIdentity } from "../core/source-identity.ts";
import { SslmemError } from "../core/errors.ts";
import type { SourceContext } from "./context.ts";
import { resolveHf } from "./hf-source.ts";
import { resolveHttps } from "./https-source.ts";
import { resolveMlflow } from "./mlflow-source.ts";
import type { InputKind } from "./oci-layers.ts";
import { resolveOci } from "./oci-source.ts";
import { parseSourceReference } from "./reference.ts";

export type { InputKind } from "./oci-layers.ts";

export type AuditInputRoleName = "target" | "reference" | "candidates" | "controls";

export const KIND_OF_ROLE: Readonly<Record<AuditInputRoleName, InputKind>> = {
  target: "model",
  reference: "model",
  candidates: "data",
  controls: "data",
};

export interface ResolveOptions {
  kind: InputKind;
  /** Accept an https:// URL without #sha256=…; its identity is then what was fetched. */
  allowUnpinned?: boolean;
}

export async function resolveSource(ctx: SourceContext, uri: string, o: ResolveOptions): Promise<SourceIdentity> {
  const ref = parseSourceReference(uri);
  switch (ref.scheme) {
    case "https":
      return resolveHttps(ctx, ref, o.allowUnpinned ?? false);
    case "mlflow":
      if (o.kind !== "model") throw new SslmemError("source_invalid", "models:/ references name encoders; give candidates and controls as https, hf or oci references");
      return resolveMlflow(ctx, ref);
    case "hf":
      return resolveHf(ctx, ref);
    case "oci":
      return resolveOci(ctx, ref, o.kind);
  }
}
