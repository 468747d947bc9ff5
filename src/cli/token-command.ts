/**
 * `sslmem token create --tenant NAME` prints a new bearer token once (only its hash is stored);
 * `sslmem token list --tenant NAME`, `sslmem token revoke ID`. Works on the store of SSLMEM_DATA_DIR
 * (or SSLMEM_DATABASE_URL).
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../config.ts";
import { openStore } from "../store/open-store.ts";
import { EXIT, UsageError } from "./errors.ts";

const HELP = `sslmem token — API tokens

Usage:
  sslmem token create --tenant NAME     print a new token (shown once; only its hash is stored)
  sslmem token list --tenant NAME       list token ids of a tenant
  sslmem token revoke ID                revoke a token

Options: --data-dir DIR (default SSLMEM_DATA_DIR or ./data)
`;

export async function tokenCommand(argv: string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { tenant: { type: "string" }, "data-dir": { type: "string" }, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem token --help')`);
  }
  const [action, arg] = parsed.positionals;
  if (parsed.values.help || !action) {
    process.stdout.write(HELP);
    return parsed.values.help ? EXIT.ok : EXIT.error;
  }
  const config = loadConfig(env, parsed.values["data-dir"] ? { dataDir: parsed.values["data-dir"] } : {});
  const store = await openStore(config);
  try {
    const tenant = parsed.values.tenant;
    const tenantOk = (t: string | undefined): t is string => typeof t === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(t);
    switch (action) {
      case "create": {
        if (!tenantOk(tenant)) throw new UsageError("--tenant NAME is required (letters, digits, '.', '_', '-'; up to 64 characters)");
        const created = await store.createToken(tenant);
        process.stderr.write(`token ${created.id} for tenant '${tenant}' (shown once; store it as a secret):\n`);
        process.stdout.write(`${created.token}\n`);
        return EXIT.ok;
      }
      case "list": {
        if (!tenantOk(tenant)) throw new UsageError("--tenant NAME is required");
        for (const t of await store.listTokens(tenant)) {
          process.stdout.write(`${t.id}\t${t.createdAt}\t${t.revokedAt ? `revoked ${t.revokedAt}` : "active"}\n`);
        }
        return EXIT.ok;
      }
      case "revoke": {
        if (!arg) throw new UsageError("pass the token id to revoke (see 'sslmem token list')");
        const ok = await store.revokeToken(arg);
        process.stderr.write(ok ? `revoked ${arg}\n` : `no active token ${arg}\n`);
        return ok ? EXIT.ok : EXIT.error;
      }
      default:
        throw new UsageError(`unknown action '${action}'; use create, list or revoke`);
    }
  } finally {
    await store.close();
  }
}
