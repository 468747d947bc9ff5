/**
 * Hostile request bodies that stream: broken multipart submissions (files streamed into the blob
 * store before the refusal must be deleted again) and bodies that never end (the limit must be
 * enforced while streaming: the answer comes before the client stops sending).
 */
import assert from "node:assert/strict";
import { convEncoder } from "../../helpers/tiny-encoders.ts";
import { digestOf } from "../support/context.ts";
import { HARDENING_LIMITS } from "../support/server.ts";
import { sendEndless } from "../support/streaming.ts";
import { refused400 } from "./requests.ts";
import type { CaseContext, HostileCase, HttpOutcome } from "./types.ts";

const MiB = 1024 * 1024;
const BOUNDARY = "hardening-boundary-7f3a";

interface Part {
  name: string;
  filename?: string;
  data: Uint8Array | string;
}

function partHead(p: Part): string {
  const file = p.filename !== undefined ? `; filename="${p.filename}"` : "";
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${file}\r\nContent-Type: application/octet-stream\r\n\r\n`;
}

function multipartBody(parts: Part[], close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) chunks.push(Buffer.from(partHead(p)), Buffer.from(p.data), Buffer.from("\r\n"));
  if (close) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

/** A model nobody has uploaded yet (so its removal after a refusal is observable). */
let freshSeed = 1000;
const freshModel = () => convEncoder({ seed: freshSeed++, channels: 4 }).bytes;

const postMultipart = (ctx: CaseContext, body: Buffer, contentType = `multipart/form-data; boundary=${BOUNDARY}`) =>
  ctx.request("/v1/audits", { method: "POST", headers: { "content-type": contentType }, body });

/** A JSON submission of the valid inputs with `config` (or extra top-level fields). */

function endless(ctx: CaseContext, path: string, o: { headers: Record<string, string>; prefix?: Buffer; chunk: Buffer; limit: number; method?: string; headWaitMs?: number }): Promise<HttpOutcome> {
  return sendEndless(ctx.url + path, {
    method: o.method ?? "POST",
    headers: { authorization: `Bearer ${ctx.tokens.alice}`, ...o.headers },
    prefix: o.prefix,
    chunk: o.chunk,
    headWaitMs: o.headWaitMs,
    // Loopback socket buffers hold a few MiB; anything far past the limit means it was not enforced.
    capBytes: Math.max(16 * o.limit, 32 * MiB),
    delayMs: 1,
  }).then((r) => {
    assert.equal(r.ended, false, "the client never finished its body");
    assert.ok(r.bytesSent < Math.max(16 * o.limit, 32 * MiB), `answered after ${r.bytesSent} bytes`);
    ctx.record(r.text);
    let json: unknown;
    try {
      json = JSON.parse(r.text);
    } catch {
      json = undefined;
    }
    return { status: r.status, contentType: r.contentType, text: r.text, json };
  });
}

export const REQUEST_STREAM_CASES: HostileCase[] = [
  // ---- multipart ----
  {
    id: "R30",
    category: "request",
    input: "multipart with target and reference files but no candidates part",
    layer: "http: multipart → request schema",
    expect: refused400,
    checks: "the two files streamed in before the refusal are deleted again",
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "target", filename: "t.onnx", data: freshModel() }, { name: "reference", filename: "r.onnx", data: freshModel() }])),
  },
  {
    id: "R31",
    category: "request",
    input: "multipart with an unknown part \"weights\"",
    layer: "http: multipart",
    expect: refused400,
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "target", data: freshModel() }, { name: "weights", data: "x" }])),
  },
  {
    id: "R32",
    category: "request",
    input: "multipart with the target part twice",
    layer: "http: multipart",
    expect: refused400,
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "target", data: freshModel() }, { name: "target", data: freshModel() }])),
  },
  {
    id: "R33",
    category: "request",
    input: "multipart/form-data without a boundary parameter",
    layer: "http: multipart",
    expect: refused400,
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "target", data: "x" }]), "multipart/form-data"),
  },
  {
    id: "R34",
    category: "request",
    input: "multipart body cut before its closing boundary",
    layer: "http: multipart",
    expect: refused400,
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "reference", data: freshModel() }, { name: "target", data: freshModel() }], false).subarray(0, -40)),
  },
  {
    id: "R35",
    category: "request",
    input: "multipart config part that is not JSON",
    layer: "http: multipart config",
    expect: refused400,
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "config", data: "{views: 3" }, { name: "target", data: freshModel() }])),
  },
  {
    id: "R36",
    category: "request",
    input: `multipart config part over maxConfigPartBytes (${HARDENING_LIMITS.maxConfigPartBytes})`,
    layer: "http: multipart config",
    expect: { kind: "refused", status: 413, code: "payload_too_large" },
    run: (ctx) => postMultipart(ctx, multipartBody([{ name: "target", data: freshModel() }, { name: "config", data: `{"outputName":"${"x".repeat(HARDENING_LIMITS.maxConfigPartBytes)}"}` }])),
  },
  // ---- bodies that never end ----
  {
    id: "R37",
    category: "request",
    input: "PUT /v1/blobs with an endless chunked body (no Content-Length), 1 ms between chunks",
    layer: "upload: maxBlobBytes while streaming",
    expect: { kind: "refused", status: 413, code: "payload_too_large" },
    checks: "answered before the body ends; no partial blob",
    run: (ctx) =>
      endless(ctx, `/v1/blobs/${digestOf("anything")}`, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream" },
        chunk: Buffer.alloc(64 * 1024, 7),
        limit: HARDENING_LIMITS.maxBlobBytes,
      }),
  },
  {
    id: "R38",
    category: "request",
    input: "POST /v1/audits with an endless JSON string (no Content-Length)",
    layer: "http: maxJsonBytes while streaming",
    expect: { kind: "refused", status: 413, code: "payload_too_large" },
    checks: "answered before the body ends",
    run: (ctx) =>
      endless(ctx, "/v1/audits", {
        headers: { "content-type": "application/json" },
        prefix: Buffer.from('{"target":"'),
        chunk: Buffer.alloc(8 * 1024, 0x61),
        limit: HARDENING_LIMITS.maxJsonBytes,
      }),
  },
  {
    id: "R39",
    category: "request",
    input: "multipart whose target part never ends (after a complete reference part)",
    layer: "http: maxBlobBytes per part while streaming",
    expect: { kind: "refused", status: 413, code: "payload_too_large" },
    checks: "answered before the body ends; the reference streamed in first is deleted",
    run: (ctx) =>
      endless(ctx, "/v1/audits", {
        headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
        prefix: Buffer.concat([multipartBody([{ name: "reference", data: freshModel() }], false), Buffer.from(partHead({ name: "target", data: "" }))]),
        chunk: Buffer.alloc(64 * 1024, 3),
        limit: HARDENING_LIMITS.maxBlobBytes,
      }),
  },
  {
    id: "R40",
    category: "request",
    input: "POST /v1/audits declaring Content-Length 10 GB",
    layer: "http: maxJsonBytes from the header, before reading",
    expect: { kind: "refused", status: 413, code: "payload_too_large" },
    run: (ctx) =>
      endless(ctx, "/v1/audits", {
        headers: { "content-type": "application/json", "content-length": String(10 * 1024 * MiB) },
        chunk: Buffer.alloc(8 * 1024, 0x20),
        limit: HARDENING_LIMITS.maxJsonBytes,
        // Refused from the head: the answer is awaited before body bytes race the server's close.
        headWaitMs: 2_000,
      }),
  },
];
