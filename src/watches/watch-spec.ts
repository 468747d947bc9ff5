/**
 * What a watch is (stored as its spec): the registry subject whose new versions are audited, the
 * audit's other inputs (pinned reference encoder, candidates, controls: digests or references,
 * as in POST /v1/audits), the audit config and the gate that turns a result into a verdict.
 * For each new version, the target is a reference to exactly that version:
 *   mlflow       models:/<model>/<version>
 *   huggingface  hf://<repo>/<path>@<commit sha>
 *   oci          oci://<registry>/<repository>@<manifest digest>
 */
import { z } from "zod";
import { AuditConfigSchema } from "../core/audit-config.ts";

const name = z.string().min(1).max(256).regex(/^[^\s/][^\s]*$/, "no spaces, not starting with '/'");

export const MlflowSubjectSchema = z.strictObject({
  kind: z.literal("mlflow"),
  /** The registered model. */
  model: name,
  /** Alias moved to a version whose verdict is pass (e.g. `audited`); none when absent. */
  passAlias: z.string().min(1).max(256).regex(/^[A-Za-z0-9_-]+$/).optional(),
});

export const HuggingFaceSubjectSchema = z.strictObject({
  kind: z.literal("huggingface"),
  /** owner/name of a model repository. */
  repo: z.string().regex(/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/, "owner/name"),
  /** The ONNX file in the repository. */
  path: z.string().min(1).max(1024).regex(/^[^/]/, "relative to the repository root"),
  /** Only pushes to these refs start audits (default: refs/heads/main). */
  refs: z.array(z.string().min(1).max(256)).min(1).default(["refs/heads/main"]),
  /** Open a discussion on the repo with the verdict (needs SSLMEM_HF_TOKEN with write access). */
  discussion: z.boolean().default(false),
});

export const OciSubjectSchema = z.strictObject({
  kind: z.literal("oci"),
  /** host[:port] of the registry. */
  registry: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, "host[:port]"),
  repository: z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/, "an OCI repository name"),
  /** The tag polled: a new manifest digest under it is a new version. */
  tag: z.string().regex(/^[\w][\w.-]{0,127}$/, "an OCI tag"),
  /** Seconds between polls (at least the server's SSLMEM_OCI_POLL_MS). */
  intervalSeconds: z.number().int().min(1).max(86_400).default(300),
});

export const WatchSubjectSchema = z.discriminatedUnion("kind", [MlflowSubjectSchema, HuggingFaceSubjectSchema, OciSubjectSchema]);
export type WatchSubject = z.output<typeof WatchSubjectSchema>;

export const GateSchema = z.strictObject({
  /** More flagged candidates than this fails the version (default 0: any flagged point fails it). */
  failOnFlagged: z.number().int().min(0).default(0),
});

/** The audit inputs besides the target, as POST /v1/audits takes them. */
export const WatchInputSchema = z.string().min(1).max(2048);

export const WatchSpecSchema = z.strictObject({
  subject: WatchSubjectSchema,
  reference: WatchInputSchema,
  candidates: WatchInputSchema,
  controls: WatchInputSchema.optional(),
  allowUnpinned: z.boolean().optional(),
  config: AuditConfigSchema.optional(),
  gate: GateSchema.prefault({}),
});

export type WatchSpec = z.output<typeof WatchSpecSchema>;

/** The target reference of one version of the subject. */
export function targetOf(subject: WatchSubject, version: string): string {
  switch (subject.kind) {
    case "mlflow":
      return `models:/${subject.model}/${version}`;
    case "huggingface":
      return `hf://${subject.repo}/${subject.path}@${version}`;
    case "oci":
      return `oci://${subject.registry}/${subject.repository}@${version}`;
  }
}
