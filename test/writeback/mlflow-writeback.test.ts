/** The verdict written back to an MLflow model version (tags, alias on pass) over MLflow's REST routes. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { writeMlflowVerdict } from "../../src/writeback/mlflow-writeback.ts";
import { startMlflowServer, type MlflowState } from "../helpers/mlflow-server.ts";
import { sourceFixture, type LocalServer } from "../helpers/sources.ts";

describe("MLflow write-back", () => {
  let server: LocalServer;
  const state: MlflowState = {
    token: "t",
    models: { encoder: { versions: [{ version: "3", source: "mlflow-artifacts:/0/r3/artifacts/model" }, { version: "4", source: "mlflow-artifacts:/0/r4/artifacts/model" }], aliases: { audited: "3" } } },
    artifacts: new Map(),
  };
  before(async () => {
    server = await startMlflowServer(state);
  });
  after(() => server.close());

  it("tags the version and moves the alias on pass; a fail tags without moving it", async () => {
    const f = await sourceFixture({ mlflowUri: server.url, mlflowToken: "t" });
    const passed = await writeMlflowVerdict(f.ctx, { name: "encoder", version: "4" }, { verdict: "pass", flagged: 0, auditId: "aud_1", reportUrl: "https://s/v1/audits/aud_1/report" }, { alias: "audited" });
    assert.equal(passed.alias, "audited");
    assert.deepEqual(state.models.encoder.versions[1].tags, { "sslmem.verdict": "pass", "sslmem.flagged": "0", "sslmem.audit": "aud_1", "sslmem.report": "https://s/v1/audits/aud_1/report" });
    assert.equal(state.models.encoder.aliases.audited, "4");
    const failed = await writeMlflowVerdict(f.ctx, { name: "encoder", version: "3" }, { verdict: "fail", flagged: 7, auditId: "aud_2", reportUrl: "r" }, { alias: "audited" });
    assert.equal(failed.alias, undefined);
    assert.equal(state.models.encoder.versions[0].tags?.["sslmem.verdict"], "fail");
    assert.equal(state.models.encoder.aliases.audited, "4", "a failed version never gets the alias");
  });

  it("maps an unknown version and a bad token to source codes", async () => {
    const f = await sourceFixture({ mlflowUri: server.url, mlflowToken: "t" });
    await assert.rejects(writeMlflowVerdict(f.ctx, { name: "encoder", version: "9" }, { verdict: "pass", flagged: 0, auditId: "a", reportUrl: "r" }), (e: unknown) => (e as { code?: string }).code === "source_not_found");
    const bad = await sourceFixture({ mlflowUri: server.url, mlflowToken: "wrong" });
    await assert.rejects(writeMlflowVerdict(bad.ctx, { name: "encoder", version: "4" }, { verdict: "pass", flagged: 0, auditId: "a", reportUrl: "r" }), (e: unknown) => (e as { code?: string }).code === "source_auth_failed");
  });
});
