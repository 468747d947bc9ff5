/**
 * TF.js encoders through the service, over real HTTP with the real engine (on its worker thread):
 * the fixture encoders as TF.js LayersModels uploaded as a .zip and a .tar (multipart and
 * PUT-then-JSON), audited to the ONNX audit's scores (≤ 1e-4) and flags; a mixed pair too; and
 * `sslmem audit --server` with TF.js model folders. The format is read from the blob's content. A zip that holds no model is a failed audit with a
 * stable code, and the service keeps serving.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeLayersModel } from "../../scripts/onnx-to-tfjs.ts";
import { parseAuditCommand } from "../../src/cli/audit-args.ts";
import { runRemoteAudit } from "../../src/cli/remote-audit.ts";
import { tempDir } from "../helpers/audit-inputs.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { writeZip } from "../helpers/data-zip.ts";
import { startEngineServer, type EngineServer } from "../helpers/engine-server.ts";

const fixtures = new URL("../../fixtures/", import.meta.url).pathname;
const config = { views: 4, seed: 5, flag: "threshold", threshold: 0.25, preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } };

interface Report {
  audit: { engine: { name: string; tfjsBackend?: string; views?: { target: string; reference: string } }; target: { digest: string } };
  points: { id: string; score: number; flagged: boolean }[];
}

describe("TF.js encoders through the service", () => {
  let server: EngineServer;
  const blobs: Record<string, Uint8Array> = {};
  const dir = tempDir();
  let onnxScores: number[] = [];
  before(async () => {
    server = await startEngineServer();
    const files = (name: string) => ["model.json", "weights.bin"].map((f) => ({ name: f, data: readFileSync(join(dir, name, f)) }));
    await writeLayersModel(join(fixtures, "encoders/target.onnx"), join(dir, "target"));
    await writeLayersModel(join(fixtures, "encoders/reference.onnx"), join(dir, "reference"));
    blobs.onnxTarget = readFileSync(join(fixtures, "encoders/target.onnx"));
    blobs.onnxReference = readFileSync(join(fixtures, "encoders/reference.onnx"));
    blobs.tfjsTarget = writeZip(files("target").map((f) => ({ ...f, name: `target/${f.name}` })));
    blobs.tfjsReference = writeTar(files("reference"));
    blobs.candidates = writeTar(
      ["member", "nonmember"].flatMap((group) =>
        readdirSync(join(fixtures, "data/candidates", group))
          .sort()
          .slice(0, 8)
          .map((n) => ({ name: `${group}/${n}`, data: readFileSync(join(fixtures, "data/candidates", group, n)) })),
      ),
    );
    blobs.notAModel = writeZip([{ name: "notes.txt", data: Buffer.from("no model here") }]);
  });
  after(async () => server?.close());

  async function report(id: string): Promise<Report> {
    const done = await server.alice.waitFor(id, undefined, 50, 240_000);
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    const r = await server.alice.json<Report>(`/v1/audits/${id}/report`);
    assert.equal(r.status, 200);
    return r.body;
  }

  async function submitJson(target: Uint8Array, reference: Uint8Array): Promise<string> {
    const a = server.alice;
    const body = { target: await a.putBlob(target), reference: await a.putBlob(reference), candidates: await a.putBlob(blobs.candidates), config };
    const r = await a.submit(body);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.id;
  }

  it("audits TF.js zip/tar blobs (multipart) and a mixed pair (JSON) to the ONNX scores and flags", async () => {
    const onnx = await report(await submitJson(blobs.onnxTarget, blobs.onnxReference));
    const form = new FormData();
    form.append("target", new Blob([blobs.tfjsTarget]), "target.zip");
    form.append("reference", new Blob([blobs.tfjsReference]), "reference.tar");
    form.append("candidates", new Blob([blobs.candidates]), "candidates.tar");
    form.append("config", JSON.stringify(config));
    const posted = await server.alice.request("/v1/audits", { method: "POST", body: form });
    assert.equal(posted.status, 202, await posted.clone().text());
    const tfjs = await report(((await posted.json()) as { id: string }).id);
    const mixed = await report(await submitJson(blobs.onnxTarget, blobs.tfjsReference));

    assert.equal(tfjs.audit.engine.name, "tfjs");
    assert.match(tfjs.audit.engine.tfjsBackend ?? "", /^tfjs(-node(-gpu)?)?\//);
    assert.deepEqual(tfjs.audit.engine.views, { target: "tfjs", reference: "tfjs" });
    assert.equal(mixed.audit.engine.name, "onnxruntime+tfjs");
    assert.deepEqual(mixed.audit.engine.views, { target: "onnxruntime", reference: "tfjs" });
    assert.equal(onnx.audit.engine.name, "onnxruntime");
    assert.equal(onnx.points.length, 16);
    for (const [name, r] of [["tfjs", tfjs], ["mixed", mixed]] as const) {
      let worst = 0;
      r.points.forEach((p, i) => {
        assert.equal(p.id, onnx.points[i].id);
        worst = Math.max(worst, Math.abs(p.score - onnx.points[i].score));
      });
      assert.ok(worst <= 1e-4, `${name}: largest score difference ${worst}`);
      assert.deepEqual(r.points.map((p) => p.flagged), onnx.points.map((p) => p.flagged), `${name}: same flags`);
    }
    assert.ok(onnx.points.some((p) => p.flagged), "the flag comparison is not vacuous");
    onnxScores = onnx.points.map((p) => p.score);
  });

  it("sslmem audit --server uploads TF.js model folders (packed as tar) and gets the same scores", async () => {
    assert.equal(onnxScores.length, 16, "runs after the ONNX audit above");
    writeFileSync(join(dir, "candidates.tar"), blobs.candidates);
    const cmd = parseAuditCommand(
      ["--target", join(dir, "target/model.json"), "--reference", join(dir, "reference"), "--candidates", join(dir, "candidates.tar"), "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25"]
        .concat(["--views", "4", "--seed", "5", "--flag", "threshold", "--threshold", "0.25", "--quiet", "--server", server.url, "--token", server.tokens.alice]),
      {},
    );
    assert.notEqual(cmd, "help");
    if (cmd === "help") return;
    const r = await runRemoteAudit(cmd);
    assert.deepEqual(r.audit.engine.views, { target: "tfjs", reference: "tfjs" });
    const worst = Math.max(...r.points.map((p, i) => Math.abs(p.score - onnxScores[i])));
    assert.ok(worst <= 1e-4, `largest score difference ${worst}`);
  });

  it("fails an audit whose encoder is an archive holding no model, with a stable code, and keeps serving", async () => {
    const id = await submitJson(blobs.notAModel, blobs.onnxReference);
    const done = await server.alice.waitFor(id, undefined, 50, 60_000);
    assert.equal(done.state, "failed");
    assert.equal(done.error?.code, "model_invalid");
    assert.match(done.error?.detail ?? "", /holds no model\.json/);
    assert.doesNotMatch(JSON.stringify(done), /\/tmp\/|blobs\/sha256|node_modules|\n\s+at /);
    assert.equal((await server.anonymous.request("/readyz")).status, 200);
  });
});
