/** Issue 13: every new budget is a variable of src/config.ts with the documented default. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CONFIG_ENV, loadConfig } from "../../src/config.ts";

const BUDGETS: [path: string, variable: string, value: number, defaultValue: number][] = [
  ["limits.maxBatchSize", "SSLMEM_MAX_BATCH_SIZE", 8, 64],
  ["limits.maxQueuePerTenant", "SSLMEM_MAX_QUEUE_PER_TENANT", 3, 25],
  ["limits.tenantStorageBytes", "SSLMEM_TENANT_STORAGE_BYTES", 1000, 100 * 2 ** 30],
  ["limits.maxAuditsPerTenant", "SSLMEM_MAX_AUDITS_PER_TENANT", 5, 10_000],
  ["limits.reportCacheBytes", "SSLMEM_REPORT_CACHE_BYTES", 0, 64 * 2 ** 20],
  ["limits.maxConcurrentReportRenders", "SSLMEM_MAX_CONCURRENT_REPORT_RENDERS", 1, 2],
  ["limits.auditTimeoutMs", "SSLMEM_AUDIT_TIMEOUT_MS", 60_000, 86_400_000],
  ["limits.pointTimeoutMs", "SSLMEM_POINT_TIMEOUT_MS", 500, 120_000],
  ["limits.engineMemoryBytes", "SSLMEM_ENGINE_MEMORY_BYTES", 2 ** 29, 8 * 2 ** 30],
  ["limits.engineHeapMiB", "SSLMEM_ENGINE_HEAP_MIB", 256, 2048],
  ["limits.engineIdleMs", "SSLMEM_ENGINE_IDLE_MS", 0, 60_000],
  ["limits.sessionCacheMax", "SSLMEM_SESSION_CACHE_MAX", 0, 4],
  ["limits.sessionCacheBytes", "SSLMEM_SESSION_CACHE_BYTES", 2 ** 20, 2 ** 30],
  ["ingest.maxPointIdBytes", "SSLMEM_MAX_POINT_ID_BYTES", 64, 1024],
  ["ingest.maxBatchPixels", "SSLMEM_MAX_BATCH_PIXELS", 1000, 64_000_000],
  ["shutdownGraceMs", "SSLMEM_SHUTDOWN_GRACE_MS", 1000, 20_000],
];

const at = (config: object, path: string): unknown => path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);

describe("issue 13: budget settings", () => {
  it("each budget is read from its variable, has its default, and is in the README's Limits section", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const defaults = loadConfig({});
    for (const [path, variable, value, defaultValue] of BUDGETS) {
      assert.equal(CONFIG_ENV[path], variable, path);
      assert.equal(at(defaults, path), defaultValue, `${variable} default`);
      assert.equal(at(loadConfig({ [variable]: String(value) }), path), value, variable);
      assert.ok(readme.includes(`\`${variable}\``), `${variable} is documented in the README`);
    }
    assert.throws(() => loadConfig({ SSLMEM_MAX_BATCH_SIZE: "5000" }), /SSLMEM_MAX_BATCH_SIZE/);
    assert.throws(() => loadConfig({ SSLMEM_ENGINE_MEMORY_BYTES: "1000" }), /SSLMEM_ENGINE_MEMORY_BYTES/);
  });
});
