/**
 * A minimal HTTP client of the service for fault, load and security tests: upload blobs, submit
 * audits, poll them. It speaks only the public API (no store access), like a real client.
 */
import { createHash } from "node:crypto";
import { pollUntil } from "./poll.ts";

export const sha256Digest = (bytes: string | Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export interface AuditView {
  id: string;
  state: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  progress?: { stage: string; done: number; total: number } | null;
  error?: { code: string; detail?: string; status: number } | null;
  attempt?: number;
  [k: string]: unknown;
}

export const TERMINAL = ["succeeded", "failed", "cancelled"];

export class ServiceClient {
  constructor(
    readonly url: string,
    readonly token: string | null,
  ) {}

  request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token !== null) headers.set("authorization", `Bearer ${this.token}`);
    return fetch(this.url + path, { ...init, headers });
  }

  async json<T = Record<string, unknown>>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await this.request(path, init);
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
  }

  /** PUT the bytes under their digest; returns the digest (throws unless 200/201). */
  async putBlob(bytes: Uint8Array | string): Promise<string> {
    const digest = sha256Digest(bytes);
    const res = await this.request(`/v1/blobs/${digest}`, {
      method: "PUT",
      body: typeof bytes === "string" ? bytes : new Uint8Array(bytes),
      headers: { "content-type": "application/octet-stream" },
    });
    const text = await res.text();
    if (res.status !== 200 && res.status !== 201) throw new Error(`PUT blob answered ${res.status}: ${text}`);
    return digest;
  }

  submit(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: AuditView & Record<string, unknown>; headers: Headers }> {
    return this.json<AuditView & Record<string, unknown>>("/v1/audits", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  }

  async audit(id: string): Promise<AuditView> {
    const r = await this.json<AuditView>(`/v1/audits/${id}`);
    if (r.status !== 200) throw new Error(`GET audit ${id} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Polls until the audit is terminal (or `until` says stop); bounded by `maxPolls`. */
  async waitFor(id: string, until: (a: AuditView) => boolean = (a) => TERMINAL.includes(a.state), intervalMs = 20, timeoutMs = 60_000): Promise<AuditView> {
    return pollUntil(async () => {
      const a = await this.audit(id);
      return until(a) ? a : undefined;
    }, { what: `audit ${id} to reach the expected state`, everyMs: intervalMs, timeoutMs });
  }
}
