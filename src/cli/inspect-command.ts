/**
 * `sslmem inspect …` (the audit's own flags) and `sslmem audit --dry-run`: what the audit would do,
 * checked before the long part. Prints text (or --format json) on stdout; exit 0 when the audit
 * can run, 1 when it cannot (the error names what to fix).
 */
import { inspectPreparedAudit, type AuditInspection, type PointsInspection } from "../engine/dry-run.ts";
import { formatCount, formatNumber } from "../report/numbers.ts";
import { AUDIT_HELP, parseAuditCommand, type AuditCommand, type ClientEnv } from "./audit-args.ts";
import { EXIT, UsageError } from "./errors.ts";
import { openPoints, prepareLocalAudit, readModel, resolveInputs } from "./local-inputs.ts";

function points(label: string, p: PointsInspection): string[] {
  const lines = [`${label.padEnd(12)}${formatCount(p.count)} points (${p.kind})`];
  for (const s of p.skipped) lines.push(`${"".padEnd(12)}skipped ${JSON.stringify(s.id)}: ${s.reason}`);
  for (const s of p.invalid) lines.push(`${"".padEnd(12)}invalid ${JSON.stringify(s.id)}: ${s.reason} (left out by --on-invalid skip)`);
  return lines;
}

export function renderInspection(x: AuditInspection): string {
  const p = x.preprocessing;
  const src = p.sources;
  // "default" here is the identity filled in beside explicit values (e.g. --range alone), never a guess.
  const from = (s: string) => (s === "default" ? "identity" : s);
  const encoder = (role: string, e: AuditInspection["target"]) => [
    `${role.padEnd(12)}${e.digest}`,
    `${"".padEnd(12)}input ${e.input}; output ${e.output}; pooling ${e.pooling}; dim ${e.dim}`,
  ];
  const eta = x.probe ? `${formatNumber(x.probe.etaSeconds, 3)} s (probe: ${x.probe.points} points in ${formatNumber(x.probe.seconds, 3)} s, warm-up included)` : "no probe (no valid candidate)";
  const lines = [
    "sslmem inspect: the audit can run",
    ...encoder("target", x.target),
    ...encoder("reference", x.reference),
    `${"input".padEnd(12)}${p.height}x${p.width} ${p.layout} (size from ${src.inputSize}, layout from ${src.layout})`,
    `${"normalize".padEnd(12)}range ${p.range.join("–")} (${from(src.range)}), mean ${p.mean.join(",")} (${from(src.mean)}), std ${p.std.join(",")} (${from(src.std)})`,
    ...points("candidates", x.candidates),
    ...(x.controls ? points("controls", x.controls) : [`${"controls".padEnd(12)}none: flags will be uncalibrated and there is no set-level verdict`]),
    `${"plan".padEnd(12)}${x.viewsPerPoint} views per point, ${formatCount(x.encoderPasses)} encoder passes on ${x.provider}, batches of ${x.batchSize}`,
    `${"eta".padEnd(12)}${eta}`,
  ];
  if (x.health) {
    lines.push(
      `${"health".padEnd(12)}invariance ratio target ${formatNumber(x.health.target.invarianceRatio, 3)}, reference ${formatNumber(x.health.reference.invarianceRatio, 3)}; ` +
        `image spread ${formatNumber(x.health.target.imageDistance, 3)} / ${formatNumber(x.health.reference.imageDistance, 3)} (${x.health.sample} points)`,
    );
    for (const w of x.health.warnings) lines.push(`warning: ${w}`);
  }
  return lines.join("\n") + "\n";
}

/** The dry run: open and check everything, measure a probe batch, return the inspection. */
type Env = Readonly<Record<string, string | undefined>>;

export async function inspectLocal(cmd: AuditCommand, env: Env = process.env): Promise<AuditInspection> {
  const { paths } = await resolveInputs(cmd, env);
  const [target, reference] = [await readModel(paths.target!, "target"), await readModel(paths.reference!, "reference")];
  const candidates = await openPoints(paths.candidates!, "candidates");
  const controls = paths.controls ? await openPoints(paths.controls, "controls") : undefined;
  try {
    const prepared = await prepareLocalAudit({ target, reference, candidates, controls }, cmd);
    try {
      return await inspectPreparedAudit(prepared, cmd.config);
    } finally {
      await prepared.release();
    }
  } finally {
    await candidates.close();
    await controls?.close();
  }
}

export async function runInspection(cmd: AuditCommand, env: Env = process.env): Promise<number> {
  if (cmd.server) throw new UsageError("--dry-run / inspect runs locally; drop --server (the API has POST /v1/audits:validate)");
  if (cmd.embeddings !== undefined) throw new UsageError("--embeddings writes the representations of a whole audit; --dry-run / inspect measures only a probe batch: drop one of them");
  const inspection = await inspectLocal(cmd, env);
  const json = cmd.outputs.length === 1 && cmd.outputs[0].format === "json" && !cmd.outputs[0].file;
  process.stdout.write(json ? JSON.stringify(inspection, null, 2) + "\n" : renderInspection(inspection));
  return EXIT.ok;
}

export async function inspectCommand(argv: string[], env: ClientEnv & Env = process.env): Promise<number> {
  const cmd = parseAuditCommand(argv, env);
  if (cmd === "help") {
    process.stdout.write(AUDIT_HELP.replace("sslmem audit —", "sslmem inspect — check an audit without running it;"));
    return EXIT.ok;
  }
  return runInspection(cmd, env);
}
