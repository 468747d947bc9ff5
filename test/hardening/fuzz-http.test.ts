/**
 * Property-based fuzzing of the API over real HTTP (issue 4): a few hundred generated bodies
 * against POST /v1/audits (JSON, multipart, raw, any Content-Type), PUT /v1/blobs and the read
 * endpoints' queries. Zero 5xx: every answer is a success or a 4xx problem+json whose code is a
 * documented one with its documented status. (The runner's executor is the test one: the engine's
 * inputs are fuzzed in fuzz-archive/fuzz-image; this is about the HTTP surface.)
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { ERROR_CODES } from "../../src/core/errors.ts";
import { digestOf, startHarness, uploadBlob, type Harness } from "../http/harness.ts";
import { check } from "./support/fuzz.ts";

let h: Harness;
let owned: string[] = [];

before(async () => {
  h = await startHarness({ config: { limits: { maxJsonBytes: 64 * 1024, maxBlobBytes: 64 * 1024, maxQueue: 1000, maxQueuePerTenant: 1000 } } });
  owned = [await uploadBlob(h, "fuzz-target"), await uploadBlob(h, "fuzz-reference"), await uploadBlob(h, "fuzz-candidates")];
});
after(() => h?.close());

/** Answers seen, by status (and problem code): the generators must reach both success and refusal paths. */
const seen = new Map<string, number>();

async function assertNot5xx(res: Response, what: string): Promise<void> {
  const text = await res.text();
  const key = res.status >= 400 ? `${res.status} ${(JSON.parse(text) as { code?: string }).code}` : String(res.status);
  seen.set(key, (seen.get(key) ?? 0) + 1);
  assert.ok(res.status < 500, `${what} → ${res.status}: ${text}`);
  if (res.status >= 400) {
    assert.equal(res.headers.get("content-type"), "application/problem+json", `${what} → ${res.status}: ${text}`);
    const problem = JSON.parse(text) as { code: keyof typeof ERROR_CODES; status: number };
    assert.equal(ERROR_CODES[problem.code], res.status, `${what}: code ${problem.code} has status ${ERROR_CODES[problem.code]}`);
  }
}

const headerText = fc.stringMatching(/^[\x21-\x7e]{0,40}$/);
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const digestish = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0, 1, 2).map((i) => owned[i]) },
  { weight: 2, arbitrary: hex64.map((x) => `sha256:${x}`) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null), fc.jsonValue({ maxDepth: 2 })) },
);
const edgy = fc.oneof(
  fc.constantFrom(0, 1, -1, 0.5, 1e9, 1e-9, 1024, 1025, 2 ** 32, "16", "simclr", "none", true, null, [], {}),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);
const CONFIG_KEYS = ["views", "seed", "augment", "pairing", "distance", "preprocessing", "pool", "outputName", "flag", "fpr", "fdr", "threshold", "robustZ", "batchSize"];
const plausibleConfig = fc.record(
  {
    views: fc.integer({ min: 1, max: 64 }),
    seed: fc.nat(),
    augment: fc.constantFrom("simclr", "byol", "mae", "none"),
    pairing: fc.constantFrom("views", "original"),
    distance: fc.constantFrom("l2", "cosine"),
    batchSize: fc.integer({ min: 1, max: 16 }),
    fdr: fc.double({ min: 0.001, max: 0.5, noNaN: true }),
  },
  { requiredKeys: [] },
);
const configish = fc.oneof(
  { weight: 3, arbitrary: plausibleConfig as fc.Arbitrary<Record<string, unknown>> },
  { weight: 2, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...CONFIG_KEYS), fc.string({ maxLength: 10 })), edgy, { maxKeys: 5 }) },
);
const auditJson = fc.oneof(
  fc.record({ target: digestish, reference: digestish, candidates: digestish, controls: digestish, config: configish }, { requiredKeys: ["target", "reference", "candidates"] }),
  fc.record({ target: digestish, reference: digestish, candidates: digestish, controls: digestish, config: configish, extra: edgy }, { requiredKeys: [] }),
);

const BOUNDARY = "fuzzBoundary";
const partArb = fc.record({
  name: fc.oneof(fc.constantFrom("target", "reference", "candidates", "controls", "config"), headerText),
  filename: fc.option(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), { nil: undefined }),
  data: fc.oneof(fc.uint8Array({ maxLength: 300 }), configish.map((c) => new TextEncoder().encode(JSON.stringify(c)))),
});
/** Parts in any number and order; or the three required files (plus optional config) with extras. */
const partsArb = fc.oneof(
  fc.array(partArb, { maxLength: 7 }),
  fc
    .tuple(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), fc.option(configish), fc.array(partArb, { maxLength: 1 }))
    .map(([t, r, c, config, extra]) => [
      { name: "target", data: t },
      { name: "reference", data: r },
      { name: "candidates", data: c },
      ...(config ? [{ name: "config", data: new TextEncoder().encode(JSON.stringify(config)) }] : []),
      ...extra,
    ]),
);
const multipartArb = fc
  .record({ parts: partsArb, close: fc.boolean(), cut: fc.nat() })
  .map(({ parts, close, cut }) => {
    const chunks: Buffer[] = [];
    for (const p of parts as { name: string; filename?: string; data: Uint8Array }[]) {
      const file = p.filename !== undefined ? `; filename="${p.filename}"` : "";
      chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${file}\r\n\r\n`), Buffer.from(p.data), Buffer.from("\r\n"));
    }
    if (close) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
    const body = Buffer.concat(chunks);
    return close ? body : body.subarray(0, body.length === 0 ? 0 : cut % body.length);
  });

const contentType = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/merge-patch+json",
    "text/plain",
    `multipart/form-data; boundary=${BOUNDARY}`,
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "",
  ),
  headerText,
);

const JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"];
/** Mostly the media type that fits the body (so the parsers behind it are reached), sometimes any. */
const typed = (fitting: fc.Arbitrary<string>, body: fc.Arbitrary<Buffer>) =>
  fc.record({ contentType: fc.oneof({ weight: 4, arbitrary: fitting }, { weight: 1, arbitrary: contentType }), body });
const submission = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: typed(fc.constantFrom(...JSON_TYPES), auditJson.map((o) => Buffer.from(JSON.stringify(o)))) },
      { weight: 3, arbitrary: typed(fc.constant(`multipart/form-data; boundary=${BOUNDARY}`), multipartArb) },
      { weight: 1, arbitrary: typed(fc.constantFrom(...JSON_TYPES), fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? ""))) },
      { weight: 1, arbitrary: typed(contentType, fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b))) },
    ),
    fc.option(fc.oneof(headerText, fc.constantFrom("same-key-1", "same-key-2")), { nil: undefined, freq: 3 }),
  )
  .map(([s, idempotencyKey]) => ({ ...s, idempotencyKey }));

test("POST /v1/audits: generated bodies and media types never get a 5xx", async () => {
  seen.clear();
  await check(
    "http-post-audits",
    fc.asyncProperty(submission, async (s) => {
      const headers: Record<string, string> = {};
      if (s.contentType !== "") headers["content-type"] = s.contentType;
      if (s.idempotencyKey !== undefined) headers["idempotency-key"] = s.idempotencyKey;
      const res = await h.request("/v1/audits", { method: "POST", headers, body: s.body });
      await assertNot5xx(res, `POST ${s.contentType} ${s.body.subarray(0, 120).toString("latin1")}`);
    }),
    300,
  );
  const codes = [...seen.keys()];
  assert.ok((seen.get("202") ?? 0) > 5, `some generated submissions are accepted: ${JSON.stringify([...seen])}`);
  for (const expected of ["400 validation_failed", "415 unsupported_media_type", "422 blob_not_found"]) {
    assert.ok(codes.includes(expected), `the generators reach ${expected}: ${JSON.stringify([...seen])}`);
  }
});

test("PUT /v1/blobs: generated digests, bodies and media types never get a 5xx", async () => {
  await check(
    "http-put-blobs",
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 2048 }),
      fc.oneof(
        fc.constant("own"),
        hex64.map((x) => `sha256:${x}`),
        fc.string({ maxLength: 90 }).map((x) => encodeURIComponent(x)),
        fc.constantFrom("sha256:", `SHA256:${"a".repeat(64)}`, `sha256:${"a".repeat(63)}`, `sha256:${"a".repeat(65)}`, "..%2F..%2Fsslmem.db"),
      ),
      contentType,
      async (body, path, type) => {
        const digest = path === "own" ? digestOf(body) : path;
        const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
        const res = await h.request(`/v1/blobs/${digest}`, { method: "PUT", headers, body });
        await assertNot5xx(res, `PUT ${digest}`);
      },
    ),
    150,
  );
});

test("read endpoints: generated ids and query strings never get a 5xx", async () => {
  const ok = await h.request("/v1/audits", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ target: owned[0], reference: owned[1], candidates: owned[2] }),
  });
  const known = ((await ok.json()) as { id: string }).id;
  await check(
    "http-read-endpoints",
    fc.asyncProperty(
      fc.oneof(fc.constant(known), fc.string({ maxLength: 40 }).map((x) => encodeURIComponent(x)), fc.constant("aud_00000000000000000000000000")),
      fc.constantFrom("", "/results", "/report", "/events"),
      fc.dictionary(fc.constantFrom("limit", "cursor", "format", "flagged", "role", "lastEventId"), fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String)), { maxKeys: 3 }),
      async (id, sub, query) => {
        const qs = new URLSearchParams(query).toString();
        const res = await h.request(`/v1/audits/${id}${sub}${qs ? `?${qs}` : ""}`, { signal: AbortSignal.timeout(5000) });
        if (sub === "/events" && res.status === 200) {
          await res.body?.cancel();
          return;
        }
        await assertNot5xx(res, `GET /v1/audits/${id}${sub}?${qs}`);
      },
    ),
    100,
  );
  const ready = await fetch(`${h.url}/readyz`);
  assert.equal(ready.status, 200, "still ready after the fuzzing");
  await ready.text();
});
