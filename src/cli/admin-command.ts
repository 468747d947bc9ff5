/**
 * `sslmem admin audits list|cancel|fail`: operator commands on the store of SSLMEM_DATA_DIR (or
 * SSLMEM_DATABASE_URL), for any tenant, with or without a server running. State changes go
 * through the AuditService like every other writer; a server running the audit notices at its
 * next batch (its progress is refused once the audit is no longer running) and stops it.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { AuditService } from "../audits/audit-service.ts";
import { AUDIT_STATES, type AuditState } from "../core/audit-states.ts";
import { SslmemError } from "../core/errors.ts";
import { loadConfig } from "../config.ts";
import { openStore } from "../store/open-store.ts";
import type { AuditRecord } from "../store/types.ts";
import { EXIT, UsageError } from "./errors.ts";

const HELP = `sslmem admin — operator commands on the local store

Usage:
  sslmem admin audits list [--state S,...]     every tenant's audits (default: queued,running), oldest first
  sslmem admin audits cancel ID                cancel a queued or running audit
  sslmem admin audits fail ID [--reason TEXT]  fail a queued or running audit (code failed_by_operator)

Options: --data-dir DIR (default SSLMEM_DATA_DIR or ./data); SSLMEM_DATABASE_URL selects PostgreSQL.
A crash-looping audit fails by itself after SSLMEM_MAX_AUDIT_CRASHES process deaths (code crash_loop).
`;

function row(a: AuditRecord): string {
  const error = typeof a.error?.code === "string" ? a.error.code : "-";
  return [a.id, a.tenant, a.state, `attempt=${a.attempt}`, `crashes=${a.crashes}`, a.createdAt, error].join("\t");
}

function parseStates(value: string | undefined): AuditState[] {
  if (value === undefined) return ["queued", "running"];
  const states = value.split(",").map((s) => s.trim());
  for (const s of states) {
    if (!(AUDIT_STATES as readonly string[]).includes(s)) throw new UsageError(`unknown state '${s}'; states: ${AUDIT_STATES.join(", ")}`);
  }
  return states as AuditState[];
}

export async function adminCommand(argv: string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        state: { type: "string" },
        reason: { type: "string" },
        "data-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split("\n")[0]} (see 'sslmem admin --help')`);
  }
  const [subject, action, id] = parsed.positionals;
  if (parsed.values.help || !subject) {
    process.stdout.write(HELP);
    return parsed.values.help ? EXIT.ok : EXIT.error;
  }
  if (subject !== "audits") throw new UsageError(`unknown subject '${subject}'; use 'sslmem admin audits …'`);
  if (action !== "list" && action !== "cancel" && action !== "fail") throw new UsageError(`unknown action '${action ?? ""}'; use list, cancel or fail`);
  if (action !== "list" && !id) throw new UsageError(`pass the audit id to ${action} (see 'sslmem admin audits list')`);
  const states = action === "list" ? parseStates(parsed.values.state) : [];
  const config = loadConfig(env, parsed.values["data-dir"] ? { dataDir: parsed.values["data-dir"] } : {});
  const store = await openStore(config);
  try {
    if (action === "list") {
      for (const audit of await store.listAuditsByState(states)) process.stdout.write(`${row(audit)}\n`);
      return EXIT.ok;
    }
    // The operator's log: warnings of the failure policy go to stderr as JSON lines.
    const audits = new AuditService({ store, logger: pino({ level: "warn" }, process.stderr) });
    const audit = await store.getAuditInternal(id!);
    if (!audit) throw new SslmemError("not_found", `no audit ${id}`);
    const changed =
      action === "cancel"
        ? await audits.cancel(audit.id, ["queued", "running"])
        : await audits.fail(audit.id, new SslmemError("failed_by_operator", `an operator failed this audit${parsed.values.reason ? `: ${parsed.values.reason}` : ""}`));
    if (!changed) {
      const now = await store.getAuditInternal(audit.id);
      process.stderr.write(`audit ${audit.id} is ${now?.state ?? "gone"}; nothing to ${action}\n`);
      return EXIT.error;
    }
    process.stderr.write(`${action === "cancel" ? "cancelled" : "failed"} ${audit.id} (tenant '${audit.tenant}')\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
