/**
 * Chooses the store from the configuration: PostgreSQL when SSLMEM_DATABASE_URL is set (scaled
 * mode: API replicas and workers share it), else the embedded SQLite file under the data
 * directory. The PostgreSQL driver is loaded only when it is used.
 *
 * To put sslmem in its own schema, give it in the URL:
 * `postgres://user:pass@host/db?options=-c%20search_path%3Dsslmem` (the schema must exist).
 */
import type { Config } from "../config.ts";
import { dataDirLayout } from "./data-dir.ts";
import { SqliteStore } from "./sqlite-store.ts";
import type { Store } from "./types.ts";

export { DATABASE_FILE } from "./data-dir.ts";

export type StoreBackend = "sqlite" | "postgresql";

export interface OpenStoreOptions {
  /** Clock in ms since the epoch (tests inject one). */
  now?: () => number;
  /** PostgreSQL only: an idle pooled connection failed (e.g. the database restarted); log it. */
  onIdleError?: (err: Error) => void;
}

type StoreConfig = Pick<Config, "dataDir" | "databaseUrl">;

export function storeBackend(config: StoreConfig): StoreBackend {
  return config.databaseUrl ? "postgresql" : "sqlite";
}

/** Opens the configured store and applies its pending migrations. */
export async function openStore(config: StoreConfig, options: OpenStoreOptions = {}): Promise<Store> {
  if (config.databaseUrl) {
    const { PgStore } = await import("./pg-store.ts");
    return PgStore.open({
      connectionString: config.databaseUrl,
      ...(options.now ? { now: options.now } : {}),
      ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
    });
  }
  return SqliteStore.open({
    path: dataDirLayout(config.dataDir).database,
    ...(options.now ? { now: options.now } : {}),
  });
}
