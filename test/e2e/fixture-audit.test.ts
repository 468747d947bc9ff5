/**
 * The proof that the audit finds what an encoder was trained on. fixtures/make_fixtures.py trained
 * two small SimCLR encoders: the target on shared ∪ members, the reference on shared ∪ independent
 * images. The candidates are members (`member/…`) and held-out non-members (`nonmember/…`), atypical
 * images among both; the controls are more held-out images. The real CLI, in a child process, must
 * rank members above non-members (AUC ≥ 0.8), its `fpr` flags must keep the false-positive rate
 * on the held-out non-members within 2α, and the set-level verdict must find the memorization
 * (the evidence gate trips, exit 2). The encoders are stamped with their normalization: the
 * command carries no --mean/--std, and the report must show the values the encoders were trained with.
 *
 * The CLI runs the compiled build (bin/sslmem.js → dist/) under `ulimit -v 8G`. With tsx in the
 * process, its WebAssembly lexer (one per thread) put a 200-point audit's peak address space at
 * 23.5 GB; with no TypeScript loader the audit fits a constrained runner's or container's limit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ReportV1Schema, type ReportV1 } from "../../src/core/report.ts";
import { tempDir } from "../helpers/audit-inputs.ts";

const root = new URL("../..", import.meta.url).pathname;
const fixtures = join(root, "fixtures");
const manifest = JSON.parse(readFileSync(join(fixtures, "manifest.json"), "utf8")) as {
  encoders: { normalization: { mean: number[]; std: number[] } };
};

/** Mann–Whitney AUC: P(score of a member > score of a non-member), ties count half. */
function auc(positives: number[], negatives: number[]): number {
  let wins = 0;
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return wins / (positives.length * negatives.length);
}

const ADDRESS_SPACE_KIB = 8 * 2 ** 20; // ulimit -v counts KiB: 8 GiB

function runCli(args: string[]): { status: number | null; stderr: string } {
  const limited = `ulimit -v ${ADDRESS_SPACE_KIB} && exec "$0" "$@"`;
  const r = spawnSync("/bin/sh", ["-c", limited, process.execPath, join(root, "bin/sslmem.js"), ...args], { encoding: "utf8", timeout: 300_000 });
  return { status: r.status, stderr: r.stderr };
}

test("the audit finds the fixture encoder's training members, with calibrated flags and a verdict of evidence", async () => {
  const out = join(tempDir(), "report.json");
  const alpha = 0.01; // the default of --fpr
  const { status, stderr } = runCli([
    "audit",
    "--target", join(fixtures, "encoders/target.onnx"),
    "--reference", join(fixtures, "encoders/reference.onnx"),
    "--candidates", join(fixtures, "data/candidates"),
    "--controls", join(fixtures, "data/controls.npy"),
    "--seed", "1",
    "--batch-size", "32",
    "-o", out,
    "--gate", "evidence",
    "--quiet",
  ]);
  assert.equal(status, 2, `the evidence gate trips on the memorizing encoder; stderr: ${stderr}`);
  assert.match(stderr, /^sslmem: gate TRIPPED: evidence of memorization: rank test p = \S+ ≤ --level 0\.01$/m);
  const report: ReportV1 = ReportV1Schema.parse(JSON.parse(readFileSync(out, "utf8")));
  assert.deepEqual(report.audit.preprocessing.mean, manifest.encoders.normalization.mean, "the stamped mean");
  assert.deepEqual(report.audit.preprocessing.std, manifest.encoders.normalization.std, "the stamped std");
  assert.equal(report.audit.engine.pipeline?.mode, "fused", "the report says the batches ran as one composed graph");
  assert.ok((report.audit.engine.pipeline?.opset ?? 0) >= 13 && (report.audit.engine.pipeline?.threads ?? 0) >= 1);
  const evidence = report.summary.evidence!;
  assert.ok(evidence.evidence && evidence.pValue < 1e-6, `rank test p = ${evidence.pValue}`);
  // 110 of the 410 candidates are members (26.8%): the lower-bound estimate must not exceed that much.
  assert.ok(evidence.excessFraction > 0.1 && evidence.excessFractionLow <= 110 / 410, `excess fraction ${evidence.excessFraction} [${evidence.excessFractionLow}]`);

  const candidates = report.points.filter((p) => p.role === "candidate");
  const members = candidates.filter((p) => p.id.startsWith("member/"));
  const nonMembers = candidates.filter((p) => p.id.startsWith("nonmember/"));
  assert.ok(members.length >= 50 && nonMembers.length >= 50, `fixture has both groups (${members.length}, ${nonMembers.length})`);
  assert.ok(members.some((p) => p.id.includes("atypical")) && nonMembers.some((p) => p.id.includes("atypical")), "atypical images in both groups");

  const a = auc(members.map((p) => p.score), nonMembers.map((p) => p.score));
  assert.ok(a >= 0.8, `members score above non-members: AUC ${a.toFixed(3)} ≥ 0.8`);

  assert.equal(report.summary.flag.method, "fpr", "fpr is the default with controls");
  assert.equal(report.summary.flag.calibrated, true, "flags are calibrated against the controls");
  assert.equal(report.summary.flag.parameters.alpha, alpha, "α is the default");
  const falseFlags = nonMembers.filter((p) => p.flagged).length;
  const fpr = falseFlags / nonMembers.length;
  assert.ok(fpr <= 2 * alpha, `false-positive rate on held-out non-members ${fpr.toFixed(3)} ≤ 2α = ${2 * alpha}`);
  const tpr = members.filter((p) => p.flagged).length / members.length;
  assert.ok(tpr > fpr, `flags find members (TPR ${tpr.toFixed(3)}) more often than non-members (FPR ${fpr.toFixed(3)})`);
});
