/**
 * PostgreSQL for tests: the server at SSLMEM_TEST_DATABASE_URL (default the CI one on loopback),
 * one throwaway schema per store under test so test files and tests never see each other's rows.
 *
 * CI starts PostgreSQL, so an unreachable server is a failure, not a skip: a suite that silently
 * passes without its database proves nothing. SSLMEM_SKIP_PG=1 skips on purpose.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const PG_TEST_URL = process.env.SSLMEM_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
export const SKIP_PG = process.env.SSLMEM_SKIP_PG === "1";

/** The URL with the password hidden, for messages. */
export function redactedUrl(url: string = PG_TEST_URL): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** null when the server answers a query, else why not (for the failure message). */
export async function probePostgres(url: string = PG_TEST_URL): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (e) {
    return (e as Error).message || String(e);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function unreachableMessage(reason: string): string {
  return (
    `PostgreSQL is not reachable at ${redactedUrl()} (${reason}). The PgStore tests need a real server: ` +
    "start it (CI: scripts/ci-services.sh; here: pg_ctlcluster --skip-systemctl-redirect <version> main start), " +
    "point SSLMEM_TEST_DATABASE_URL at one, or set SSLMEM_SKIP_PG=1 to skip these tests deliberately."
  );
}

let counter = 0;

/** A schema name no other test (or concurrent test process) uses. */
export function uniqueSchemaName(): string {
  return `sslmem_test_${process.pid}_${++counter}_${randomBytes(4).toString("hex")}`;
}

/** An admin connection pool for creating, inspecting and dropping test schemas. */
export class PgTestAdmin {
  readonly pool = new pg.Pool({ connectionString: PG_TEST_URL, max: 2 });

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.pool.query<R>(sql, params)).rows;
  }

  async dropSchema(schema: string): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
