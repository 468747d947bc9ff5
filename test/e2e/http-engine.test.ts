/**
 * The service end to end with the real engine: the CLI's client mode uploads tiny ONNX encoders
 * and a directory of PNGs over real HTTP on 127.0.0.1, the in-process runner measures them with
 * ONNX Runtime, and the report equals the local CLI's for the same seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { pino } from "pino";
import { loadConfig } from "../../src/config.ts";
import { engineExecutorFactory } from "../../src/jobs/execute-audit.ts";
import { startServer } from "../../src/server.ts";
import { parseAuditCommand } from "../../src/cli/audit-args.ts";
import { runLocalAudit } from "../../src/cli/audit-command.ts";
import { runRemoteAudit } from "../../src/cli/remote-audit.ts";
import { seededRandom } from "../helpers/tiny-encoders.ts";
import { tempDir, writeRandomNpy, writeTinyEncoderPair } from "../helpers/audit-inputs.ts";

async function writePngDirectory(root: string, n: number, seed: number): Promise<void> {
  const rand = seededRandom(seed);
  for (let i = 0; i < n; i++) {
    const dir = join(root, i % 2 ? "b" : "a");
    mkdirSync(dir, { recursive: true });
    const w = 18 + (i % 5);
    const h = 20;
    const data = Buffer.alloc(w * h * 3);
    for (let k = 0; k < data.length; k++) data[k] = Math.floor(rand() * 256);
    await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, `img-${i}.png`));
  }
}

test("an audit over HTTP gives the same scores as the local CLI, and its HTML report shows thumbnails", async () => {
  const work = tempDir();
  const enc = writeTinyEncoderPair(work);
  const candidates = join(work, "candidates");
  await writePngDirectory(candidates, 12, 9);
  const controls = writeRandomNpy(work, "controls.npy", 25, 20, 20, 5);
  const config = loadConfig({}, { dataDir: join(work, "server"), port: 0, host: "127.0.0.1", providers: ["cpu"], threads: 1 });
  mkdirSync(join(config.dataDir, "tmp"), { recursive: true });
  const server = await startServer(config, {
    executor: (deps) => engineExecutorFactory(deps),
    logger: pino({ level: "silent" }),
    handleSignals: false,
  });
  try {
    const { token } = await server.store.createToken("team-a");
    const argv = [
      "--target", enc.target, "--reference", enc.reference, "--candidates", candidates, "--controls", controls,
      "--views", "3", "--seed", "42", "--fpr", "0.2", "--quiet", "--providers", "cpu", "--threads", "1",
    ];
    const { report: local } = await runLocalAudit(parseAuditCommand(argv) as never);
    const remote = await runRemoteAudit(parseAuditCommand([...argv, "--server", server.url, "--token", token]) as never);

    assert.equal(remote.points.length, 12 + 25, "every candidate and control is in the remote report");
    assert.deepEqual(
      remote.points.map((p) => p.id).sort(),
      local.points.map((p) => p.id).sort(),
      "directory ids survive packing and upload",
    );
    const byId = new Map(local.points.map((p) => [`${p.role}:${p.id}`, p]));
    for (const p of remote.points) {
      const l = byId.get(`${p.role}:${p.id}`)!;
      assert.ok(Math.abs(p.score - l.score) <= 1e-9, `score of ${p.id}: ${p.score} vs ${l.score}`);
      assert.ok(Math.abs(p.alignTarget - l.alignTarget) <= 1e-9, `alignTarget of ${p.id}`);
      assert.equal(p.flagged, l.flagged, `flag of ${p.id}`);
    }
    assert.deepEqual(remote.summary.flag.parameters, local.summary.flag.parameters, "same calibration");
    assert.equal(remote.audit.config.seed, 42, "config travels");

    // Second submission: every blob is already there (HEAD), so nothing is uploaded again.
    const again = await runRemoteAudit(parseAuditCommand([...argv, "--server", server.url, "--token", token]) as never);
    assert.deepEqual(again.points, remote.points, "same inputs, same seed: same report points");

    const html = await fetch(`${server.url}/v1/audits/${remote.audit.id}/report?format=html`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(html.status, 200, "html report served");
    const page = await html.text();
    assert.match(page, /<img[^>]+src="data:image\/(png|jpeg);base64,/, "thumbnails of candidates are inlined");
    assert.doesNotMatch(page, /https?:\/\//, "no external references in the page");
  } finally {
    await server.close();
  }
});
