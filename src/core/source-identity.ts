/**
 * The immutable identity a model or data reference resolved to: what the caller wrote, what it
 * pointed at when it was resolved (version, commit, manifest digest) and the sha256 of the bytes
 * that were audited. The report records one per referenced input, so an audit can be traced back
 * to exactly one artifact even after a tag or alias moved.
 */
import { z } from "zod";

export const SOURCE_SCHEMES = ["https", "mlflow", "hf", "oci"] as const;
export type SourceScheme = (typeof SOURCE_SCHEMES)[number];

export const SourceIdentitySchema = z
  .strictObject({
    uri: z.string().min(1).meta({ description: "The reference as given (credentials never appear here)." }),
    scheme: z.enum(SOURCE_SCHEMES),
    resolved: z.string().min(1).meta({ description: "The same reference pinned to what it resolved to (version, commit or manifest digest)." }),
    version: z.string().optional().meta({ description: "MLflow model version." }),
    commit: z.string().optional().meta({ description: "Hugging Face commit sha (40 hex)." }),
    manifestDigest: z.string().optional().meta({ description: "OCI manifest digest." }),
    file: z.string().optional().meta({ description: "The file within the artifact that was used (path, or the layer's title)." }),
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/).meta({ description: "sha256 of the bytes that were audited." }),
    size: z.number().int().min(0),
  })
  .meta({ id: "SourceIdentity" });

export type SourceIdentity = z.output<typeof SourceIdentitySchema>;

/** Identities by input role; only referenced inputs appear (uploaded files have none). */
export const AuditSourcesSchema = z
  .strictObject({
    target: SourceIdentitySchema.optional(),
    reference: SourceIdentitySchema.optional(),
    candidates: SourceIdentitySchema.optional(),
    controls: SourceIdentitySchema.optional(),
  })
  .meta({ description: "Where referenced inputs came from (registries, pinned URLs)." });

export type AuditSources = z.output<typeof AuditSourcesSchema>;
