import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CONFIG_ENV, loadConfig } from "../src/config.ts";
import { SslmemError } from "../src/core/errors.ts";
import { DEFAULT_INGEST_LIMITS } from "../src/data/limits.ts";

function rejects(fn: () => unknown, name: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SslmemError);
    assert.equal(e.code, "invalid_config");
    assert.match(e.message, new RegExp(`^${name}: `));
    return true;
  });
}

describe("loadConfig", () => {
  it("has safe defaults: loopback, auth on, retention off", () => {
    const c = loadConfig({});
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.port, 8080);
    assert.equal(c.auth, "enabled");
    assert.equal(c.dataDir, "./data");
    assert.equal(c.providers, "auto");
    assert.equal(c.retentionHours, 0);
    assert.equal(c.threads, undefined);
    assert.equal(c.memoryBudget, 1.5 * 2 ** 30, "1.5 GiB unless set");
    assert.deepEqual(c.ingest, DEFAULT_INGEST_LIMITS);
    assert.equal(c.limits.maxViews, 256);
  });

  it("reads every SSLMEM_* variable it documents, overrides on top, empty means unset", () => {
    const c = loadConfig(
      {
        SSLMEM_DATA_DIR: "/srv/sslmem",
        SSLMEM_PORT: "9000",
        SSLMEM_AUTH: "disabled",
        SSLMEM_PROVIDERS: "cuda, cpu",
        SSLMEM_THREADS: "4",
        SSLMEM_MEMORY_BUDGET: "2G",
        SSLMEM_RETENTION_HOURS: "72",
        SSLMEM_MAX_BLOB_BYTES: "1048576",
        SSLMEM_MAX_QUEUE: "5",
        SSLMEM_MAX_VIEWS: "64",
        SSLMEM_MAX_PIXELS: "1000000",
        SSLMEM_HOST: "",
      },
      { port: 0, limits: { maxQueue: 9 } },
    );
    assert.equal(c.dataDir, "/srv/sslmem");
    assert.equal(c.port, 0);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.auth, "disabled");
    assert.deepEqual(c.providers, ["cuda", "cpu"]);
    assert.equal(c.threads, 4);
    assert.equal(c.memoryBudget, 2 * 2 ** 30);
    assert.equal(c.retentionHours, 72);
    assert.equal(c.limits.maxBlobBytes, 1048576);
    assert.equal(c.limits.maxQueue, 9);
    assert.equal(c.limits.maxViews, 64);
    assert.equal(c.limits.bodyTimeoutMs, 30_000, "unset limits keep their defaults");
    assert.equal(c.ingest.maxPixels, 1_000_000);
    assert.equal(c.ingest.maxPoints, DEFAULT_INGEST_LIMITS.maxPoints);
  });

  it("names the variable at fault and never exits the process", () => {
    rejects(() => loadConfig({ SSLMEM_PORT: "http" }), "SSLMEM_PORT");
    rejects(() => loadConfig({ SSLMEM_PORT: "70000" }), "SSLMEM_PORT");
    rejects(() => loadConfig({ SSLMEM_AUTH: "off" }), "SSLMEM_AUTH");
    rejects(() => loadConfig({ SSLMEM_MAX_QUEUE: "0" }), "SSLMEM_MAX_QUEUE");
    rejects(() => loadConfig({ SSLMEM_MEMORY_BUDGET: "lots" }), "SSLMEM_MEMORY_BUDGET");
    rejects(() => loadConfig({ SSLMEM_MEMORY_BUDGET: "1M" }), "SSLMEM_MEMORY_BUDGET");
    rejects(() => loadConfig({ SSLMEM_MAX_VIEWS: "5000" }), "SSLMEM_MAX_VIEWS");
    rejects(() => loadConfig({ SSLMEM_RETENTION_HOURS: "-1" }), "SSLMEM_RETENTION_HOURS");
    rejects(() => loadConfig({ SSLMEM_PROVIDERS: "CUDA" }), "SSLMEM_PROVIDERS");
    rejects(() => loadConfig({ SSLMEM_LOG_LEVEL: "loud" }), "SSLMEM_LOG_LEVEL");
    rejects(() => loadConfig({ SSLMEM_MAX_EXPANSION_RATIO: "0.5" }), "SSLMEM_MAX_EXPANSION_RATIO");
    rejects(() => loadConfig({}, { limits: { unknown: 1 } as never }), "limits");
  });

  it("maps each documented variable to a field", () => {
    for (const [path, name] of Object.entries(CONFIG_ENV)) {
      assert.match(name, /^SSLMEM_[A-Z_]+$/, path);
    }
    assert.equal(new Set(Object.values(CONFIG_ENV)).size, Object.keys(CONFIG_ENV).length, "one variable per field");
  });
});
