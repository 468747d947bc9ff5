/**
 * The CaseContext a case runs with: every response body is recorded (for the leak check), and
 * every upload and accepted audit is remembered, so the runner knows which stored additions are
 * the case's own.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { AuditParts, BlobInput, CaseContext, FinishedAudit, HttpOutcome } from "../cases/types.ts";
import { CHEAP_CONFIG } from "../cases/inputs.ts";
import type { HardeningServer } from "./server.ts";
import { pollUntil } from "../../helpers/poll.ts";

export const digestOf = (bytes: Uint8Array | string): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export async function toOutcome(res: Response): Promise<HttpOutcome> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, contentType: res.headers.get("content-type"), text, json };
}

export interface TrackedContext extends CaseContext {
  readonly bodies: string[];
  readonly uploaded: Set<string>;
  readonly audits: Set<string>;
}

export function createContext(server: HardeningServer, valid: CaseContext["valid"]): TrackedContext {
  const bodies: string[] = [];
  const uploaded = new Set<string>();
  const audits = new Set<string>();

  const request = async (path: string, init: RequestInit & { token?: string | null } = {}): Promise<HttpOutcome> => {
    const outcome = await toOutcome(await server.request(path, init));
    bodies.push(outcome.text);
    if (path.startsWith("/v1/audits") && (init.method ?? "GET") === "POST" && (outcome.status === 202 || outcome.status === 200)) {
      if (typeof outcome.json?.id === "string") audits.add(outcome.json.id);
    }
    return outcome;
  };

  const upload = async (bytes: Uint8Array, token?: string): Promise<string> => {
    const digest = digestOf(bytes);
    const res = await request(`/v1/blobs/${digest}`, {
      method: "PUT",
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
      ...(token !== undefined ? { token } : {}),
    });
    assert.ok(res.status === 201 || res.status === 200, `upload answered ${res.status}: ${res.text}`);
    uploaded.add(digest);
    return digest;
  };

  const blob = async (input: BlobInput | undefined, fallback: string): Promise<string> => {
    if (input === undefined) return fallback;
    if (input instanceof Uint8Array) return upload(input);
    return input.digest;
  };

  const submitJson = (body: unknown, headers: Record<string, string> = {}) =>
    request("/v1/audits", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  const ctx: TrackedContext = {
    dataDir: server.dir,
    tokens: server.tokens,
    valid,
    url: server.url,
    bodies,
    uploaded,
    audits,
    request,
    upload,
    submitJson,
    async audit(parts: AuditParts) {
      const body: Record<string, unknown> = {
        target: await blob(parts.target, valid.target),
        reference: await blob(parts.reference, valid.reference),
        candidates: await blob(parts.candidates, valid.candidates),
        config: parts.config ?? CHEAP_CONFIG,
      };
      if (parts.controls !== undefined) body.controls = await blob(parts.controls, "");
      return submitJson(body);
    },
    async waitFinished(id: string): Promise<FinishedAudit> {
      const TERMINAL = ["succeeded", "failed", "cancelled"] as const;
      const isTerminal = (state: unknown): state is FinishedAudit["state"] => (TERMINAL as readonly unknown[]).includes(state);
      const res = await pollUntil(
        async () => {
          const r = await request(`/v1/audits/${id}`);
          assert.equal(r.status, 200, `GET audit: ${r.text}`);
          return isTerminal(r.json.state) ? r : undefined;
        },
        { what: `audit ${id} to finish`, everyMs: 10, timeoutMs: 60_000 },
      );
      // The event stream ends after the terminal event; it carries the error too (leak check).
      const events = await request(`/v1/audits/${id}/events`);
      assert.equal(events.status, 200, `events: ${events.text}`);
      const state = res.json.state;
      if (!isTerminal(state)) throw new Error(`audit ${id} is ${String(state)}`);
      return { id, state, error: res.json.error ?? null, resource: res.json };
    },
    async report(id: string) {
      const res = await request(`/v1/audits/${id}/report?format=json`);
      assert.equal(res.status, 200, `report: ${res.text}`);
      return res.json;
    },
    async results(id: string) {
      const rows: unknown[] = [];
      let cursor: string | null = null;
      do {
        const res = await request(`/v1/audits/${id}/results?format=json&limit=1000${cursor ? `&cursor=${cursor}` : ""}`);
        assert.equal(res.status, 200, `results: ${res.text}`);
        rows.push(...res.json.items);
        cursor = res.json.nextCursor;
      } while (cursor);
      return rows as any[];
    },
    record(text: string) {
      bodies.push(text);
    },
  };
  return ctx;
}
