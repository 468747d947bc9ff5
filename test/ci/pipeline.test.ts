/**
 * The CI integrations against a real sslmem server (real engine, HTTP on 127.0.0.1): the GitHub
 * Action's entry point (ci/github/entry.mjs, run as the action runs it, with INPUT_* variables and
 * the $GITHUB_STEP_SUMMARY / $GITHUB_OUTPUT files) and the GitLab template's script lines (read
 * from ci/gitlab/sslmem.yml and run by bash, as a GitLab runner runs them).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { verdictOfExitCode } from "../../src/ci/verdict.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Runs a command to its end without blocking this process (the server under test lives here). */
function run(command: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...o, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

function parseOutputs(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

describe("CI integrations against a real server", () => {
  let server: EngineServer;
  let inputs: { target: string; reference: string; candidates: string; controls: string };
  // Every candidate has scoreNormalized ≥ -1000: with this flag setting all are flagged.
  const flagAll = "--flag threshold --threshold=-1000 --views 2";

  before(async () => {
    server = await startEngineServer();
    const work = tempDir();
    const enc = writeTinyEncoderPair(work);
    inputs = {
      target: enc.target,
      reference: enc.reference,
      candidates: writeRandomNpy(work, "candidates.npy", 5, 16, 16, 3),
      controls: writeRandomNpy(work, "controls.npy", 8, 16, 16, 4),
    };
  });
  after(() => server?.close());

  async function runAction(extra: Record<string, string>) {
    const dir = tempDir("sslmem-gh-");
    const summary = join(dir, "summary.md");
    const output = join(dir, "output.txt");
    writeFileSync(summary, "");
    writeFileSync(output, "");
    const r = await run(process.execPath, [join(ROOT, "ci/github/entry.mjs")], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        RUNNER_TEMP: dir,
        GITHUB_STEP_SUMMARY: summary,
        GITHUB_OUTPUT: output,
        INPUT_SERVER: server.url,
        INPUT_TOKEN: server.tokens.alice,
        INPUT_TARGET: inputs.target,
        INPUT_REFERENCE: inputs.reference,
        INPUT_CANDIDATES: inputs.candidates,
        INPUT_CONTROLS: inputs.controls,
        ...extra,
      },
    });
    return { status: r.status, stderr: r.stderr, stdout: r.stdout, summary: readFileSync(summary, "utf8"), outputs: parseOutputs(readFileSync(output, "utf8")), dir };
  }

  it("GitHub Action: a passed gate exits 0, writes the job summary and the outputs, and the extra reports", async () => {
    const r = await runAction({ INPUT_GATE: "100", INPUT_ARGS: "--views 2", INPUT_OUTPUTS: "sarif=sslmem.sarif junit=sslmem-junit.xml" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.outputs.verdict, "pass");
    assert.match(r.outputs.flagged, /^\d+$/);
    assert.match(r.outputs["report-url"], new RegExp(`^${server.url}/v1/audits/aud_[0-9A-Z]+/report$`));
    assert.match(r.summary, /^# ✅ sslmem gate passed/);
    assert.match(r.summary, /## sslmem: \d+ of 5 candidates flagged as memorized/);
    assert.match(r.summary, /Gate: at most 100 flagged candidates/);
    assert.ok(existsSync(join(r.dir, "sslmem.sarif")) && existsSync(join(r.dir, "sslmem-junit.xml")));
    assert.doesNotMatch(r.stdout + r.stderr + r.summary, new RegExp(server.tokens.alice), "the token is never printed");
    // The report behind report-url is the audit's.
    const id = /audits\/([^/]+)\/report/.exec(r.outputs["report-url"])![1];
    assert.equal(JSON.parse(readFileSync(join(r.dir, "sslmem.sarif"), "utf8")).runs[0].properties.auditId, id);
  });

  it("GitHub Action: a tripped gate exits 2 with verdict fail and the flagged points in the summary", async () => {
    const r = await runAction({ INPUT_GATE: "0", INPUT_ARGS: flagAll });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.outputs.verdict, "fail");
    assert.equal(r.outputs.flagged, "5");
    assert.match(r.summary, /^# ❌ sslmem gate tripped/);
    assert.match(r.summary, /### Top flagged points/);
  });

  it("GitHub Action: a server error exits 1 with verdict error and empty counts", async () => {
    const r = await runAction({ INPUT_TOKEN: "not-a-token", INPUT_GATE: "0" });
    assert.equal(r.status, 1);
    assert.deepEqual(r.outputs, { verdict: "error", flagged: "", "report-url": "" });
    assert.match(r.summary, /could not complete the audit/);
    assert.match(r.stderr, /HTTP 401; pass a valid --token/);
  });

  it("verdicts follow the CLI's exit codes (3 = inconclusive)", () => {
    assert.deepEqual([0, 1, 2, 3, 4].map(verdictOfExitCode), ["pass", "error", "fail", "inconclusive", "error"]);
  });

  async function runGitlabJob(variables: Record<string, string>) {
    const template = parseYaml(readFileSync(join(ROOT, "ci/gitlab/sslmem.yml"), "utf8")) as Record<string, { script: string[]; variables: Record<string, string>; artifacts: { reports: Record<string, string> } }>;
    const job = template[".sslmem-audit"];
    const dir = tempDir("sslmem-gl-");
    // A GitLab runner runs the script lines in one bash session with errexit and pipefail.
    const r = await run("bash", ["-e", "-o", "pipefail", "-c", job.script.join("\n")], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        ...job.variables,
        SSLMEM_CLI: `${process.execPath} ${join(ROOT, "bin/sslmem.js")}`,
        SSLMEM_SERVER: server.url,
        SSLMEM_TOKEN: server.tokens.alice,
        SSLMEM_TARGET: inputs.target,
        SSLMEM_REFERENCE: inputs.reference,
        SSLMEM_CANDIDATES: inputs.candidates,
        SSLMEM_CONTROLS: inputs.controls,
        ...variables,
      },
    });
    return { ...r, dir, reports: job.artifacts.reports };
  }

  it("GitLab template: the script passes, and writes the JUnit, Code Quality, JSON and Markdown reports it declares", async () => {
    const r = await runGitlabJob({ SSLMEM_FAIL_ON_FLAGGED: "100", SSLMEM_ARGS: "--views 2" });
    assert.equal(r.status, 0, r.stderr);
    for (const file of [r.reports.junit, r.reports.codequality, "sslmem-report.json", "sslmem-summary.md"]) assert.ok(existsSync(join(r.dir, file)), file);
    assert.ok(Array.isArray(JSON.parse(readFileSync(join(r.dir, r.reports.codequality), "utf8"))));
    assert.match(r.stdout, /## sslmem: \d+ of 5 candidates/, "the summary is printed to the job log");
  });

  it("GitLab template: a tripped gate fails the job with exit 2, with one Code Quality issue per flagged image", async () => {
    const r = await runGitlabJob({ SSLMEM_FAIL_ON_FLAGGED: "0", SSLMEM_ARGS: flagAll });
    assert.equal(r.status, 2, r.stderr);
    const issues = JSON.parse(readFileSync(join(r.dir, r.reports.codequality), "utf8")) as { fingerprint: string; location: { path: string } }[];
    assert.equal(issues.length, 5);
    assert.deepEqual(issues.map((i) => i.location.path).sort(), ["0", "1", "2", "3", "4"]);
    assert.match(readFileSync(join(r.dir, r.reports.junit), "utf8"), /<failure/);
  });
});
