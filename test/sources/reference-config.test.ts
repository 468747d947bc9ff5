/** Reference parsing and the sources configuration (environment variables). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { isSourceReference, parseSourceReference } from "../../src/sources/reference.ts";
import { chooseLayer } from "../../src/sources/oci-layers.ts";

const HEX = "ab".repeat(32);

function invalid(uri: string, pattern: RegExp) {
  assert.throws(
    () => parseSourceReference(uri),
    (e: unknown) => e instanceof SslmemError && e.code === "source_invalid" && pattern.test(e.message),
  );
}

describe("parseSourceReference", () => {
  it("parses each scheme", () => {
    const https = parseSourceReference(`https://models.example.com/enc/v1.onnx#sha256=${HEX.toUpperCase()}`);
    assert.equal(https.scheme, "https");
    assert.equal(https.scheme === "https" && https.pin, `sha256:${HEX}`);
    assert.equal(https.scheme === "https" && https.url.href, "https://models.example.com/enc/v1.onnx");
    assert.deepEqual(parseSourceReference("models:/team/encoder/12"), { scheme: "mlflow", uri: "models:/team/encoder/12", name: "team/encoder", version: "12" });
    assert.deepEqual(parseSourceReference("models:/encoder@champion"), { scheme: "mlflow", uri: "models:/encoder@champion", name: "encoder", alias: "champion" });
    assert.deepEqual(parseSourceReference("hf://acme/enc/onnx/model.onnx@v1.0"), { scheme: "hf", uri: "hf://acme/enc/onnx/model.onnx@v1.0", repo: "acme/enc", path: "onnx/model.onnx", revision: "v1.0" });
    assert.equal((parseSourceReference("hf://acme/enc/model.onnx") as { revision: string }).revision, "main");
    assert.deepEqual(parseSourceReference(`oci://ghcr.io:443/acme/models/enc@sha256:${HEX}`), {
      scheme: "oci",
      uri: `oci://ghcr.io:443/acme/models/enc@sha256:${HEX}`,
      registry: "ghcr.io:443",
      repository: "acme/models/enc",
      digest: `sha256:${HEX}`,
    });
    assert.deepEqual(parseSourceReference("oci://localhost:5000/enc:rc-1"), { scheme: "oci", uri: "oci://localhost:5000/enc:rc-1", registry: "localhost:5000", repository: "enc", tag: "rc-1" });
    assert.equal((parseSourceReference("oci://localhost:5000/enc") as { tag: string }).tag, "latest");
  });

  it("refuses malformed references with a message saying what to write", () => {
    invalid("https://user:pw@models.example.com/a.onnx", /credentials in a URL/);
    invalid("https://models.example.com/a.onnx#md5=00", /#sha256=/);
    invalid("models:/encoder", /models:\/<name>\/<version number>/);
    invalid("models:/encoder/latest", /version number/);
    invalid("hf://acme/enc@main", /hf:\/\/<owner>/);
    invalid("hf://acme/enc/../secrets@main", /'\.\.'/);
    invalid("oci://ghcr.io/Acme/Enc:v1", /repository name/);
    invalid("oci://ghcr.io/acme/enc@sha256:abc", /sha256:<64/);
    invalid("ftp://example.com/a.onnx", /use https/);
  });

  it("tells references from blob digests", () => {
    assert.equal(isSourceReference(`sha256:${HEX}`), false);
    assert.equal(isSourceReference("oci://r/x:y"), true);
    assert.equal(isSourceReference("./model.onnx"), false);
  });
});

describe("chooseLayer", () => {
  const layer = (mediaType: string, title?: string) => ({ mediaType, digest: `sha256:${HEX}`, size: 1, ...(title ? { annotations: { "org.opencontainers.image.title": title } } : {}) });
  it("prefers an .onnx title, then a single weight layer; data wants a dataset layer", () => {
    assert.equal(chooseLayer([layer("application/vnd.cncf.model.doc.v1.raw", "README.md"), layer("application/octet-stream", "enc.onnx")], "model", "x").title, "enc.onnx");
    assert.equal(chooseLayer([layer("application/vnd.cncf.model.weight.v1.tar")], "model", "x").packing, "tar");
    assert.equal(chooseLayer([layer("application/vnd.kitops.modelkit.model.v1.tar+gzip")], "model", "x").packing, "tar+gzip");
    assert.equal(chooseLayer([layer("application/vnd.cncf.model.dataset.v1.tar", "set.tar"), layer("application/octet-stream", "enc.onnx")], "data", "x").title, "set.tar");
    assert.throws(() => chooseLayer([layer("application/vnd.cncf.model.weight.v1.tar+zstd")], "model", "x"), /zstd/);
  });
});

describe("sources configuration", () => {
  it("reads the allowlist, exempt ranges and credentials from the environment", () => {
    const c = loadConfig({
      SSLMEM_SOURCE_ALLOW: "ghcr.io, *.hf.co, 127.0.0.1:5000",
      SSLMEM_SOURCE_ALLOW_ADDRESSES: "10.0.0.0/8",
      SSLMEM_SOURCE_CREDENTIALS: JSON.stringify([{ host: "ghcr.io", header: "Authorization", value: "Basic eDp5" }]),
      SSLMEM_MLFLOW_URI: "https://mlflow.internal",
    });
    assert.deepEqual(c.sources.allow, ["ghcr.io", "*.hf.co", "127.0.0.1:5000"]);
    assert.deepEqual(c.sources.allowAddresses, ["10.0.0.0/8"]);
    assert.equal(c.sources.credentials[0].value, "Basic eDp5");
    assert.equal(c.sources.hfEndpoint, "https://huggingface.co");
  });

  it("names the variable of a bad value and never echoes a credential", () => {
    assert.throws(() => loadConfig({ SSLMEM_SOURCE_ALLOW: "not a host!" }), /^SslmemError: SSLMEM_SOURCE_ALLOW: /);
    assert.throws(
      () => loadConfig({ SSLMEM_SOURCE_CREDENTIALS: '[{"host":"ghcr.io","header":"bad header","value":"hunter2"}]' }),
      (e: unknown) => e instanceof SslmemError && /SSLMEM_SOURCE_CREDENTIALS/.test(e.message) && !/hunter2/.test(e.message),
    );
  });
});
