import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SslmemError } from "../../src/core/errors.ts";
import { RESULT_MEDIA_TYPES, acceptedMediaTypes, csvField, csvLine, negotiate } from "../../src/http/results-format.ts";

describe("CSV", () => {
  it("quotes per RFC 4180 and neutralises spreadsheet formulas in point ids", () => {
    assert.equal(csvField("plain.png"), "plain.png");
    assert.equal(csvField('a,"b".png'), '"a,""b"".png"');
    assert.equal(csvField("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert.equal(csvField("+1.png"), "'+1.png");
    assert.equal(csvField("@cmd"), "'@cmd");
    assert.equal(csvField(-0.25), "-0.25", "numbers are never prefixed");
    assert.equal(csvField(undefined), "");
    assert.equal(csvField(false), "false");
  });

  it("writes the columns in the header's order", () => {
    const line = csvLine({ index: 3, id: "x/y.png", role: "control", alignTarget: 0.1, alignReference: 0.3, score: 0.2, stdErr: 0.01, pairs: 16 });
    assert.equal(line, "3,x/y.png,control,0.1,0.3,0.2,0.01,16,,,\r\n");
  });
});

describe("negotiate", () => {
  it("orders Accept ranges by q, then position", () => {
    assert.deepEqual(acceptedMediaTypes("text/csv;q=0.5, application/x-ndjson, */*;q=0.1"), ["application/x-ndjson", "text/csv", "*/*"]);
    assert.deepEqual(acceptedMediaTypes(undefined), ["*/*"]);
    assert.deepEqual(acceptedMediaTypes("text/csv;q=0"), []);
  });

  it("prefers ?format=, then Accept, then the fallback for */*", () => {
    assert.equal(negotiate("csv", "application/json", RESULT_MEDIA_TYPES, "json"), "csv");
    assert.equal(negotiate(undefined, "text/csv, application/json;q=0.9", RESULT_MEDIA_TYPES, "json"), "csv");
    assert.equal(negotiate(undefined, "text/*", RESULT_MEDIA_TYPES, "json"), "csv");
    assert.equal(negotiate(undefined, "image/png, */*;q=0.1", RESULT_MEDIA_TYPES, "json"), "json");
    assert.equal(negotiate(undefined, undefined, RESULT_MEDIA_TYPES, "json"), "json");
    assert.throws(
      () => negotiate(undefined, "image/png", RESULT_MEDIA_TYPES, "json"),
      (e: unknown) => e instanceof SslmemError && e.code === "not_acceptable",
    );
  });
});
