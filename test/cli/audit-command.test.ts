/**
 * `sslmem audit` through the real binary: every output format written by -o (format from the
 * extension or FMT=), the exit codes of its gates locally and with --server (SSLMEM_SERVER /
 * SSLMEM_TOKEN), argument errors that name the flag, and Ctrl-C.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ReportV1Schema } from "../../src/core/report.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";
import { convEncoder } from "../helpers/tiny-encoders.ts";
import { runCli } from "./run-cli.ts";

describe("sslmem audit", () => {
  let dir: string;
  let base: string[];
  let withControls: string[];
  const fast = ["--views", "2", "--seed", "3", "--providers", "cpu", "--threads", "1"];

  before(() => {
    dir = tempDir();
    const enc = writeTinyEncoderPair(dir);
    const candidates = writeRandomNpy(dir, "candidates.npy", 12, 20, 20, 1);
    const controls = writeRandomNpy(dir, "controls.npy", 30, 20, 20, 2);
    base = ["audit", "--target", enc.target, "--reference", enc.reference, "--candidates", candidates, ...fast];
    withControls = [...base, "--controls", controls];
  });

  it("writes every format by -o, the format taken from the extension or FMT=, and keeps stdout free", async () => {
    const out = (name: string) => join(dir, name);
    const r = await runCli([
      ...withControls,
      "-o", out("r.json"), "-o", out("r.html"), "-o", out("r.xml"), "-o", out("r.sarif"), "-o", out("r.csv"), "-o", out("r.txt"),
      "-o", `junit=${out("junit-explicit.out")}`, "--fail-on-flagged", "1000",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "", "every report went to a file");
    assert.match(r.stderr, /^sslmem: plan: 12 candidates \+ 30 controls, 2 view pairs \(4 views\) per point, 336 encoder passes \(target and reference\) on cpu, batches of 8$/m);
    assert.match(r.stderr, /^sslmem: gate passed: \d+ flagged ≤ --fail-on-flagged 1000$/m);
    assert.match(r.stderr, /^sslmem: verdict: (no )?evidence of memorization beyond chance at level 0\.01: AUC/m);

    const report = ReportV1Schema.parse(JSON.parse(readFileSync(out("r.json"), "utf8")));
    assert.equal(report.points.length, 42);
    assert.ok(report.summary.evidence, "with controls the report has a set-level verdict");
    const html = readFileSync(out("r.html"), "utf8");
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<img[^>]+src="data:image\/(png|jpeg);base64,/, "the CLI's HTML has thumbnails");
    assert.match(html, /of memorization beyond chance at level 0\.01/);
    for (const junit of [out("r.xml"), out("junit-explicit.out")]) assert.match(readFileSync(junit, "utf8"), /^<\?xml[^>]*>\n<testsuites name="sslmem"/);
    assert.equal(JSON.parse(readFileSync(out("r.sarif"), "utf8")).version, "2.1.0");
    assert.match(readFileSync(out("r.csv"), "utf8"), /^id,role,/);
    assert.match(readFileSync(out("r.txt"), "utf8"), /^sslmem audit local-/);

    // --format decides stdout; the saved report re-renders and re-gates offline.
    const json = await runCli([...withControls, "--format", "json", "--quiet"]);
    assert.equal(json.status, 0, json.stderr);
    ReportV1Schema.parse(JSON.parse(json.stdout));
    const rerender = await runCli(["report", out("r.json"), "-o", out("again.html"), "--candidates", join(dir, "candidates.npy")]);
    assert.equal(rerender.status, 0, rerender.stderr);
    assert.match(readFileSync(out("again.html"), "utf8"), /<img[^>]+src="data:image\//);
    const gate = await runCli(["gate", out("r.json"), "--fail-on-flagged", "1000"]);
    assert.equal(gate.status, 0, gate.stderr);
  });

  it("exit codes of the local gates: 2 tripped, 3 inconclusive, 0 passed", async () => {
    // Threshold −1000 on scoreNormalized flags every candidate: the count gate must trip.
    const all = await runCli([...base, "--flag", "threshold", "--threshold=-1000", "--fail-on-flagged", "0", "--quiet"]);
    assert.equal(all.status, 2, all.stderr);
    assert.match(all.stderr, /gate TRIPPED: 12 flagged > --fail-on-flagged 0/);
    const noControls = await runCli([...base, "--gate", "evidence", "--quiet"]);
    assert.equal(noControls.status, 3, noControls.stderr);
    assert.match(noControls.stderr, /gate INCONCLUSIVE: --gate evidence needs controls/);
    // 30 controls cannot calibrate α = 0.01 (99 are needed): uncalibrated flags are inconclusive.
    const few = await runCli([...withControls, "--require-calibrated", "--quiet"]);
    assert.equal(few.status, 3, few.stderr);
    assert.match(few.stderr, /gate INCONCLUSIVE: the fpr flags are uncalibrated and --require-calibrated is set: fpr α = 0\.01 needs at least 99 controls, got 30/);
    // Random encoders do not look trained: a warning before the long part, and --strict makes it inconclusive.
    const strict = await runCli([...withControls, "--strict", "--quiet", "-o", join(dir, "strict.json")]);
    assert.equal(strict.status, 3, strict.stderr);
    assert.match(strict.stderr, /^warning: the target encoder maps different images close together/m);
    assert.match(strict.stderr, /gate INCONCLUSIVE: encoder health warnings with --strict: the target encoder maps different images close together/);
    const health = ReportV1Schema.parse(JSON.parse(readFileSync(join(dir, "strict.json"), "utf8"))).summary.health!;
    assert.equal(health.sample, 32);
    assert.ok(health.warnings.length > 0 && health.controlsAlignment !== undefined);
    const calibrated = await runCli([...withControls, "--fpr", "0.1", "--require-calibrated", "--quiet", "-o", join(dir, "ev.json")]);
    assert.equal(calibrated.status, 0, calibrated.stderr);
    // Random encoders on exchangeable candidates and controls: the evidence gate trips only at p ≤ level.
    const ev = ReportV1Schema.parse(JSON.parse(readFileSync(join(dir, "ev.json"), "utf8"))).summary.evidence!;
    const gate = await runCli([...withControls, "--gate", "evidence", "--level", "0.05", "--quiet"]);
    assert.equal(gate.status, ev.pValue <= 0.05 ? 2 : 0, gate.stderr);
  });

  it("argument errors exit 1 with one line that names the flag", async () => {
    const unstamped = join(dir, "unstamped.onnx");
    writeFileSync(unstamped, convEncoder({ normalize: false, height: 20, width: 20 }).bytes);
    const cases: Array<[string[], RegExp]> = [
      [["audit", "--reference", "x", "--candidates", "y"], /^error: --target is required \(see 'sslmem audit --help'\)$/m],
      [[...base, "--candiates", "x"], /unknown option '--candiates' — did you mean --candidates\?/],
      [[...base, "--fail-on-flaged", "0"], /did you mean --fail-on-flagged\?/],
      [[...base, "--mean", "123.7,116.3,103.5", "--std", "58.4,57.1,57.4"], /--mean: mean 123\.7,116\.3,103\.5 looks like the 0–255 scale.*divide by 255: 0\.4851,0\.4561,0\.4059; --std: /],
      [[...base, "--normalize", "imagenet", "--mean", "0.5,0.5,0.5", "--std", "0.2,0.2,0.2"], /--normalize: normalize names a preset; give either it or range\/mean\/std/],
      [[...base, "--normalize", "vgg"], /^error \[invalid_config\]: --normalize: /],
      [[...base, "--mean", "0.5,0.5,0.5"], /--std: mean and std go together/],
      [[...base, "--pool", "avg"], /^error \[invalid_config\]: --pool: /],
      [[...base, "--providers", "cudaa"], /--providers: unknown provider 'cudaa'; known: cuda, tensorrt/],
      [[...base, "-o", join(dir, "report.foo")], /-o .*report\.foo: cannot tell the format from the file name; use an extension/],
      [[...base, "-o", `pdf=${join(dir, "r.pdf")}`], /unknown format 'pdf'/],
      [[...base, "--gate", "evidence", "--level", "0"], /--level takes a number in \(0, 0\.5\)/],
      [[...base, "--views", "many"], /--views must be a number, got 'many'/],
      [["audit", "--target", unstamped, "--reference", unstamped, "--candidates", join(dir, "candidates.npy"), ...fast],
        /error \[preprocessing_required\]: the encoder does not declare how its input is normalized.*--normalize imagenet\|clip\|half\|unit\|none.*--mean a,b,c --std a,b,c.*sslmem stamp/],
      [["audti"], /unknown command 'audti' — did you mean 'audit'\?/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.slice(-4).join(" "));
      assert.doesNotMatch(r.stderr, /\n\s+at |node:internal/, "no stack trace");
    }
  });

  it("Ctrl-C stops the audit with a message and exit 130", async () => {
    const many = writeRandomNpy(dir, "many.npy", 3000, 32, 32, 7);
    const enc = writeTinyEncoderPair(join(dir), 32);
    let sent = false;
    const r = await runCli(["audit", "--target", enc.target, "--reference", enc.reference, "--candidates", many, "--views", "16", "--batch-size", "1", "--providers", "cpu", "--threads", "1", "-o", join(dir, "never.json")], {
      onStderr: (text, child) => {
        if (!sent && text.includes("sslmem: plan:")) {
          sent = true;
          child.kill("SIGINT");
        }
      },
    });
    assert.ok(sent, `the plan line appeared: ${r.stderr}`);
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, /sslmem: interrupted \(Ctrl-C\): stopping after the current batch/);
    assert.match(r.stderr, /sslmem: audit interrupted; no report written \(exit 130\)/);
    assert.equal(existsSync(join(dir, "never.json")), false);
  });

  describe("with --server", () => {
    let server: EngineServer;
    before(async () => {
      server = await startEngineServer({ engineThread: "main" });
    });
    after(async () => {
      await server?.close();
    });

    it("the same gates and exit codes, the server and token from SSLMEM_SERVER / SSLMEM_TOKEN", async () => {
      const env = { SSLMEM_SERVER: server.url, SSLMEM_TOKEN: server.tokens.alice };
      const tripped = await runCli([...base, "--flag", "threshold", "--threshold=-1000", "--fail-on-flagged", "0", "--quiet"], { env });
      assert.equal(tripped.status, 2, tripped.stderr);
      assert.match(tripped.stderr, /gate TRIPPED: 12 flagged > --fail-on-flagged 0/);
      const out = join(dir, "remote.json");
      const passed = await runCli([...withControls, "--fail-on-flagged", "1000", "--quiet", "-o", out], { env });
      assert.equal(passed.status, 0, passed.stderr);
      assert.ok(ReportV1Schema.parse(JSON.parse(readFileSync(out, "utf8"))).audit.id.length > 0);
      const inconclusive = await runCli([...base, "--gate", "evidence", "--quiet"], { env });
      assert.equal(inconclusive.status, 3, inconclusive.stderr);
      // The server measures encoder health too: random encoders make --strict inconclusive there as well.
      const strict = await runCli([...withControls, "--strict", "--quiet"], { env });
      assert.equal(strict.status, 3, strict.stderr);
      assert.match(strict.stderr, /gate INCONCLUSIVE: encoder health warnings with --strict: the target encoder maps different images close together/);
      // --server on the command line wins over the environment.
      const flag = await runCli([...base, "--server", server.url, "--token", server.tokens.alice, "--fail-on-flagged", "1000", "--quiet"], { env: { SSLMEM_SERVER: "http://127.0.0.1:9" } });
      assert.equal(flag.status, 0, flag.stderr);
    });

    it("a wrong or missing token is invalid_token, exit 1", async () => {
      const wrong = await runCli([...base, "--quiet"], { env: { SSLMEM_SERVER: server.url, SSLMEM_TOKEN: "sslmem_not-a-token" } });
      assert.equal(wrong.status, 1, wrong.stderr);
      assert.match(wrong.stderr, /^error \[invalid_token\]: .*the server refused the token \(unknown or revoked\); pass a valid --token or set SSLMEM_TOKEN/);
      const none = await runCli([...base, "--quiet", "--server", server.url]);
      assert.equal(none.status, 1, none.stderr);
      assert.match(none.stderr, /^error \[invalid_token\]: .*the server needs a token and none was given/);
    });
  });
});
