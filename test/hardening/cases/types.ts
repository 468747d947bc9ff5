/**
 * One hostile input: what is sent (`run`), what the service must answer (`expect`), and the
 * words CASES.md uses for it. The runner (hostile-inputs.test.ts) adds the checks every case gets:
 * no crash (/readyz), nothing stored changed, no path or stack in any response.
 */
import type { ErrorCode } from "../../../src/core/errors.ts";

export interface HttpOutcome {
  status: number;
  contentType: string | null;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: any;
}

export interface FinishedAudit {
  id: string;
  state: "succeeded" | "failed" | "cancelled";
  error: { code: string; status: number; detail?: string } | null;
  resource: any;
}

export type Expectation =
  /** The request itself is refused: this status and problem code; nothing stored changes. */
  | { kind: "refused"; status: number; code: ErrorCode }
  /** Accepted (202), then the audit ends `failed` with this code (a 4xx problem). */
  | { kind: "failed"; code: ErrorCode }
  /** Accepted and succeeds: the documented conversion; `check` asserts what it did. */
  | { kind: "succeeded"; check: (audit: FinishedAudit, ctx: CaseContext) => Promise<void> };

export type Category = "model" | "image" | "archive" | "request";

export interface HostileCase {
  /** Stable id, also the row of CASES.md: M.. models, I.. images, A.. archives, R.. requests. */
  id: string;
  category: Category;
  /** What is sent. */
  input: string;
  /** Where it is stopped: upload, submit (HTTP validation), engine (model checks), ingest (readers)… */
  layer: string;
  expect: Expectation;
  /** The problem's `detail` (of the refusal, or of the failed audit's error) must match. */
  detail?: RegExp | ((detail: string) => void);
  /** Checks beyond the common ones, as CASES.md words them (each one is asserted by the case). */
  checks?: string;
  /**
   * State the attack needs (e.g. an earlier submission to misuse its Idempotency-Key), made and
   * finished before the "nothing changed" snapshot; its result is passed to `run`.
   */
  setup?(ctx: CaseContext): Promise<unknown>;
  /** Sends the input; returns the deciding response (for failed/succeeded: the 202 of the submission). */
  run(ctx: CaseContext, prepared?: any): Promise<HttpOutcome>;
}

export type BlobInput = Uint8Array | { digest: string };

export interface AuditParts {
  target?: BlobInput;
  reference?: BlobInput;
  candidates?: BlobInput;
  controls?: BlobInput;
  config?: Record<string, unknown>;
}

export interface CaseContext {
  /** The data directory of the server (must not leak). */
  readonly dataDir: string;
  readonly tokens: { alice: string; bob: string };
  /** Digests of the valid inputs, already uploaded by alice. */
  readonly valid: { target: string; reference: string; candidates: string };
  /** Any request (alice's token unless `token`); the body is recorded for the leak check. */
  request(path: string, init?: RequestInit & { token?: string | null }): Promise<HttpOutcome>;
  /** PUT /v1/blobs/{digest of bytes}; asserts 200/201. */
  upload(bytes: Uint8Array, token?: string): Promise<string>;
  /** POST /v1/audits with a JSON body (any value; strings are sent as they are). */
  submitJson(body: unknown, headers?: Record<string, string>): Promise<HttpOutcome>;
  /** Uploads the given parts (valid ones for the others) and submits them with CHEAP_CONFIG. */
  audit(parts: AuditParts): Promise<HttpOutcome>;
  /** Polls the audit until it is finished. */
  waitFinished(id: string): Promise<FinishedAudit>;
  /** The report (JSON) of a succeeded audit. */
  report(id: string): Promise<any>;
  /** All result rows of an audit. */
  results(id: string): Promise<any[]>;
  /** Records an extra response body (raw streams) for the leak check. */
  record(text: string): void;
  readonly url: string;
}
