import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { SslmemError } from "../../src/core/errors.ts";
import { DATABASE_FILE, openStore, storeBackend } from "../../src/store/open-store.ts";
import { PgStore } from "../../src/store/pg-store.ts";
import { SqliteStore } from "../../src/store/sqlite-store.ts";
import { PG_TEST_URL, PgTestAdmin, SKIP_PG, probePostgres, uniqueSchemaName, unreachableMessage } from "./pg-test-db.ts";

const root = mkdtempSync(join(tmpdir(), "sslmem-open-store-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("store selection", () => {
  it("reads SSLMEM_DATABASE_URL and rejects other schemes without echoing the URL", () => {
    assert.equal(loadConfig({}).databaseUrl, undefined);
    assert.equal(loadConfig({ SSLMEM_DATABASE_URL: "postgres://u:p@db:5432/sslmem" }).databaseUrl, "postgres://u:p@db:5432/sslmem");
    assert.equal(loadConfig({ SSLMEM_DATABASE_URL: "  " }).databaseUrl, undefined, "empty counts as unset");
    assert.throws(
      () => loadConfig({ SSLMEM_DATABASE_URL: "mysql://u:hunter2@db/x" }),
      (e: unknown) => {
        assert.ok(e instanceof SslmemError, "an SslmemError");
        assert.equal(e.code, "invalid_config");
        assert.match(e.message, /SSLMEM_DATABASE_URL/);
        assert.ok(!e.message.includes("hunter2"), "the URL (and its password) is not echoed");
        return true;
      },
    );
  });

  it("opens the SQLite file under the data directory by default", async () => {
    const dataDir = join(root, "embedded", "data");
    const config = loadConfig({ SSLMEM_DATA_DIR: dataDir });
    assert.equal(storeBackend(config), "sqlite");
    const store = await openStore(config);
    try {
      assert.ok(store instanceof SqliteStore);
      assert.ok(existsSync(join(dataDir, DATABASE_FILE)), "the database file is in the data directory");
      await store.healthCheck();
    } finally {
      await store.close();
    }
  });
});

const unreachable = SKIP_PG ? null : await probePostgres();

describe("store selection: PostgreSQL", { skip: SKIP_PG ? "SSLMEM_SKIP_PG=1" : false }, () => {
  it("opens PostgreSQL when SSLMEM_DATABASE_URL is set, honouring a search_path in the URL", async () => {
    if (unreachable !== null) assert.fail(unreachableMessage(unreachable));
    const admin = new PgTestAdmin();
    const schema = uniqueSchemaName();
    const dataDir = join(root, "scaled", "data");
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
      const url = new URL(PG_TEST_URL);
      url.searchParams.set("options", `-c search_path=${schema}`);
      const config = loadConfig({ SSLMEM_DATABASE_URL: url.toString(), SSLMEM_DATA_DIR: dataDir });
      assert.equal(storeBackend(config), "postgresql");
      const store = await openStore(config);
      try {
        assert.ok(store instanceof PgStore);
        const { id } = await store.createToken("acme");
        const rows = await admin.query(`SELECT id FROM "${schema}".tokens`);
        assert.deepEqual(rows, [{ id }], "the store wrote into the schema named in the URL");
      } finally {
        await store.close();
      }
      assert.ok(!existsSync(join(dataDir, DATABASE_FILE)), "no SQLite file is created in PostgreSQL mode");
    } finally {
      await admin.dropSchema(schema);
      await admin.close();
    }
  });
});
