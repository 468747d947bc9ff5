/**
 * `sslmem audit --server URL --token T`: the CLI as a client of the HTTP service. Uploads every
 * input by digest (HEAD first: an unchanged reference encoder is never uploaded twice), submits
 * the audit, follows its progress, and downloads the JSON report; the caller then writes outputs
 * and applies the same gate as a local audit. `sslmem units --server` (remote-units.ts) uses the
 * same uploads and the same follow loop.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { ReportV1Schema, type ReportV1 } from "../core/report.ts";
import { ERROR_CODES, SslmemError, type ErrorCode } from "../core/errors.ts";
import { packDirectory } from "../data/tar-writer.ts";
import { isSourceReference } from "../sources/reference.ts";
import type { AuditCommand } from "./audit-args.ts";
import { createProgress } from "./progress.ts";

interface Upload {
  /** A fresh stream of the bytes each time (hashing, then uploading). */
  open(): Promise<Readable>;
  label: string;
}

export async function fileOrDirectory(path: string, flag: string): Promise<Upload> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new SslmemError(flag === "target" || flag === "reference" ? "model_not_found" : "candidates_not_found", `--${flag} '${path}' does not exist`);
  }
  // A TF.js model named by its model.json travels as its folder.
  if (info.isFile() && (flag === "target" || flag === "reference") && basename(path) === "model.json") return fileOrDirectory(dirname(path), flag);
  if (info.isDirectory()) {
    // Directories travel as a deterministic tar: the same tree gives the same digest (a TF.js
    // model folder too: the service reads the format from the content).
    return { open: async () => (await packDirectory(path)).stream, label: `${flag} (directory packed as tar)` };
  }
  return { open: async () => createReadStream(path), label: flag };
}

async function digestOf(upload: Upload): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of await upload.open()) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

export class Client {
  constructor(
    private readonly base: string,
    private readonly token: string | undefined,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request(method: string, path: string, init: { body?: RequestInit["body"] | Readable; headers?: Record<string, string> } = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: this.headers(init.headers),
        body: init.body as RequestInit["body"],
        ...(init.body instanceof Readable ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (e) {
      throw new SslmemError("unavailable", `cannot reach the sslmem server at ${this.base} (${(e as Error).message}); check --server`);
    }
    return res;
  }

  /** Turns a problem+json response into an SslmemError with the server's code and detail. */
  async fail(res: Response, what: string): Promise<never> {
    let code: ErrorCode = res.status >= 500 ? "internal" : "invalid_config";
    let detail = `${what} failed with HTTP ${res.status}`;
    try {
      const problem = (await res.json()) as { code?: string; detail?: string; title?: string; errors?: { path: string; message: string }[] };
      if (problem.code && problem.code in ERROR_CODES) code = problem.code as ErrorCode;
      const fields = problem.errors?.map((e) => `${e.path}: ${e.message}`).join("; ");
      detail = `${what}: ${problem.detail ?? problem.title ?? `HTTP ${res.status}`}${fields ? ` (${fields})` : ""}`;
    } catch {
      // not problem+json: keep the status line
    }
    if (res.status === 401) {
      // The one thing to fix is the token; say so with its own code (the server says "unauthorized").
      const why = this.token ? "the server refused the token (unknown or revoked)" : "the server needs a token and none was given";
      throw new SslmemError("invalid_token", `${what}: HTTP 401, ${why}; pass a valid --token or set SSLMEM_TOKEN (create one with 'sslmem token create --tenant NAME' on the server)`);
    }
    throw new SslmemError(code, detail);
  }
}

export async function ensureBlob(client: Client, upload: Upload, log: (s: string) => void): Promise<string> {
  const { digest, size } = await digestOf(upload);
  const head = await client.request("HEAD", `/v1/blobs/${digest}`);
  if (head.status === 200) {
    log(`${upload.label}: already on the server (${digest.slice(0, 19)}…)`);
    return digest;
  }
  if (head.status !== 404) await client.fail(head, `checking ${upload.label}`);
  log(`${upload.label}: uploading ${(size / 1e6).toFixed(1)} MB`);
  const put = await client.request("PUT", `/v1/blobs/${digest}`, {
    body: await upload.open(),
    headers: { "content-type": "application/octet-stream", "content-length": String(size) },
  });
  if (put.status !== 200 && put.status !== 201) await client.fail(put, `uploading ${upload.label}`);
  return digest;
}

interface AuditResource {
  id: string;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  progress: { stage: string; done: number; total: number } | null;
  error: { code?: string; detail?: string; title?: string } | null;
}

/**
 * Submits an audit (any kind), follows it to its end (Ctrl-C cancels it on the server), and returns
 * it once it succeeded; a failed or cancelled audit is an error with the server's code.
 */
export async function submitAndFollow(client: Client, body: object, opts: { quiet: boolean; log: (s: string) => void; signal?: AbortSignal }): Promise<AuditResource> {
  const { log, signal } = opts;
  const submit = await client.request("POST", "/v1/audits", { body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  if (submit.status !== 202 && submit.status !== 200) await client.fail(submit, "submitting the audit");
  let audit = (await submit.json()) as AuditResource;
  log(`audit ${audit.id} submitted`);

  const progress = createProgress({ quiet: opts.quiet });
  let delay = 250;
  while (audit.state === "queued" || audit.state === "running") {
    if (signal?.aborted) {
      // Ctrl-C: the audit would otherwise keep the server busy for nobody.
      await client.request("POST", `/v1/audits/${audit.id}:cancel`).catch(() => undefined);
      throw new SslmemError("cancelled", `audit ${audit.id} cancelled on the server`);
    }
    await sleep(delay);
    delay = Math.min(2000, delay * 1.5);
    const res = await client.request("GET", `/v1/audits/${audit.id}`);
    if (res.status !== 200) await client.fail(res, "following the audit");
    audit = (await res.json()) as AuditResource;
    if (audit.progress) progress.update(audit.state === "queued" ? "queued" : audit.progress.stage, audit.progress.done, audit.progress.total);
  }
  progress.done();
  if (audit.state !== "succeeded") {
    const code = audit.error?.code && audit.error.code in ERROR_CODES ? (audit.error.code as ErrorCode) : "engine_failure";
    throw new SslmemError(code, `audit ${audit.id} ${audit.state}: ${audit.error?.detail ?? audit.error?.title ?? "no reason given"}`);
  }
  return audit;
}

export async function runRemoteAudit(cmd: AuditCommand, signal?: AbortSignal): Promise<ReportV1> {
  const client = new Client(cmd.server!, cmd.token);
  const log = (s: string) => {
    if (!cmd.quiet) process.stderr.write(`${s}\n`);
  };
  const inputs: Record<string, string> = {};
  for (const [flag, path] of [
    ["target", cmd.target],
    ["reference", cmd.reference],
    ["candidates", cmd.candidates],
    ...(cmd.controls ? [["controls", cmd.controls]] : []),
  ] as [string, string][]) {
    // A reference is resolved by the server (its allowlist and credentials), not uploaded.
    inputs[flag] = isSourceReference(path) ? path : await ensureBlob(client, await fileOrDirectory(path, flag), log);
  }
  const audit = await submitAndFollow(client, { ...inputs, ...(cmd.allowUnpinned ? { allowUnpinned: true } : {}), config: cmd.config }, { quiet: cmd.quiet, log, signal });
  const res = await client.request("GET", `/v1/audits/${audit.id}/report?format=json`, { headers: { accept: "application/json" } });
  if (res.status !== 200) await client.fail(res, "downloading the report");
  const parsed = ReportV1Schema.safeParse(await res.json());
  if (!parsed.success) throw new SslmemError("internal", "the server's report does not match sslmem.report/v1; check that client and server versions match");
  return parsed.data;
}
