import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SslmemError } from "../../src/core/errors.ts";
import { multipartBoundary, readMultipart } from "../../src/http/multipart.ts";

const LIMITS = { maxParts: 8, maxHeaderBytes: 1024 };

interface Field {
  name: string;
  filename?: string;
  data: Buffer;
}

function encode(boundary: string, fields: Field[], options: { preamble?: string; epilogue?: string } = {}): Buffer {
  const chunks: Buffer[] = [Buffer.from(options.preamble ?? "")];
  for (const f of fields) {
    const disposition = `form-data; name="${f.name}"${f.filename !== undefined ? `; filename="${f.filename}"` : ""}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: application/octet-stream\r\n\r\n`));
    chunks.push(f.data, Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n${options.epilogue ?? ""}`));
  return Buffer.concat(chunks);
}

async function* split(bytes: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut > from && cut < bytes.length) {
      yield bytes.subarray(from, cut);
      from = cut;
    }
  }
  yield bytes.subarray(from);
}

async function collect(source: AsyncIterable<Uint8Array>, boundary: string, limits = LIMITS) {
  const out: { name: string; filename: string | null; data: Buffer }[] = [];
  for await (const part of readMultipart(source, boundary, limits)) {
    const chunks: Buffer[] = [];
    for await (const c of part.body) chunks.push(c);
    out.push({ name: part.name, filename: part.filename, data: Buffer.concat(chunks) });
  }
  return out;
}

async function rejectsValidation(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof SslmemError);
    assert.equal(e.code, "validation_failed");
    assert.match(e.message, pattern);
    return true;
  });
}

describe("multipartBoundary", () => {
  it("reads quoted and bare boundaries", () => {
    assert.equal(multipartBoundary("multipart/form-data; boundary=abc123"), "abc123");
    assert.equal(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b:c"'), "a b:c");
  });
  it("refuses a missing, empty or over-long boundary", () => {
    for (const ct of ["multipart/form-data", "multipart/form-data; boundary=", `multipart/form-data; boundary=${"x".repeat(71)}`, "text/plain; boundary=x"]) {
      assert.throws(() => multipartBoundary(ct), (e: unknown) => e instanceof SslmemError && e.code === "validation_failed", ct);
    }
  });
});

describe("readMultipart", () => {
  it("yields each part with its name, filename and exact bytes", async () => {
    const fields: Field[] = [
      { name: "target", filename: "f.onnx", data: Buffer.from([0, 13, 10, 45, 45, 255]) },
      { name: "config", data: Buffer.from('{"views":4}') },
      { name: "empty", filename: "e", data: Buffer.alloc(0) },
    ];
    const parts = await collect(split(encode("XyZ", fields, { preamble: "ignored\r\n", epilogue: "trailing" }), []), "XyZ");
    assert.deepEqual(
      parts.map((p) => [p.name, p.filename, p.data.toString("hex")]),
      [
        ["target", "f.onnx", "000d0a2d2dff"],
        ["config", null, Buffer.from('{"views":4}').toString("hex")],
        ["empty", "e", ""],
      ],
    );
  });

  it("gives the same parts however the body is split into chunks (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ name: fc.constantFrom("a", "b", "c"), data: fc.uint8Array({ maxLength: 300 }) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat({ max: 1500 }), { maxLength: 12 }),
        async (raw, cuts) => {
          const boundary = "----bnd0123";
          const fields = raw.map((f) => ({ name: f.name, data: Buffer.from(f.data) }));
          const parts = await collect(split(encode(boundary, fields), cuts), boundary);
          assert.deepEqual(
            parts.map((p) => [p.name, p.data.toString("hex")]),
            fields.map((f) => [f.name, f.data.toString("hex")]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("skips a part body the consumer did not read", async () => {
    const body = encode("b1", [
      { name: "skip", data: Buffer.from("x".repeat(5000)) },
      { name: "keep", data: Buffer.from("kept") },
    ]);
    const seen: string[] = [];
    for await (const part of readMultipart(split(body, [10, 100, 4000]), "b1", LIMITS)) {
      if (part.name === "keep") {
        const chunks: Buffer[] = [];
        for await (const c of part.body) chunks.push(c);
        seen.push(Buffer.concat(chunks).toString());
      } else seen.push(part.name);
    }
    assert.deepEqual(seen, ["skip", "kept"]);
  });

  it("refuses malformed bodies with validation_failed", async () => {
    const ok = encode("b", [{ name: "a", data: Buffer.from("1") }]);
    await rejectsValidation(collect(split(ok.subarray(0, ok.length - 10), []), "b"), /ended inside a part/);
    await rejectsValidation(collect(split(Buffer.from("no boundary at all"), []), "b"), /ended inside the preamble/);
    await rejectsValidation(
      collect(split(Buffer.from("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"), []), "b"),
      /Content-Disposition/,
    );
    await rejectsValidation(
      collect(split(Buffer.from('--b\r\nContent-Disposition: form-data; filename="x"\r\n\r\nx\r\n--b--'), []), "b"),
      /has no name/,
    );
    const huge = Buffer.from(`--b\r\nContent-Disposition: form-data; name="a"\r\nX: ${"y".repeat(4000)}\r\n\r\nx\r\n--b--`);
    await rejectsValidation(collect(split(huge, []), "b"), /headers is longer/);
    const many = encode("b", Array.from({ length: 3 }, () => ({ name: "a", data: Buffer.from("1") })));
    await rejectsValidation(collect(split(many, []), "b", { maxParts: 2, maxHeaderBytes: 1024 }), /more than 2 parts/);
    await rejectsValidation(collect(split(Buffer.from("--bXYZ\r\n"), []), "b"), /after a boundary/);
  });
});
