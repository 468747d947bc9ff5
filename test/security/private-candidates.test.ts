/**
 * Candidate images are private: during real audits (ids that look like patient records, pixels
 * with a recognisable signature, a member that is not an image, a corrupt image that fails the
 * audit, an HTML report with thumbnails) nothing of them reaches the log — neither the bytes (raw,
 * base64 or hex) nor the point ids (file names), at debug level.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeRgb } from "../helpers/data-png.ts";
import { writeTar } from "../helpers/data-tar.ts";
import { tinyEncoderPair } from "../helpers/engine-inputs.ts";
import { startEngineServer, uploadAuditInputs } from "../helpers/engine-server.ts";

const IDS = ["patient-93117-mri.png", "patient-93118-mri.png", "patient-93119-mri.png", "patient-93120-mri.png"];

/** A 16×16 image whose pixels spell a recognisable byte pattern. */
async function signatureImage(seed: number): Promise<Buffer> {
  const rgb = Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37 + seed * 11) % 256);
  return encodeRgb(16, 16, rgb, "png");
}

describe("candidate images are never logged", () => {
  it("keeps ids and bytes out of the log through successful and failing audits", async () => {
    const s = await startEngineServer();
    try {
      const images = await Promise.all(IDS.map((_, i) => signatureImage(i)));
      const entries = IDS.map((name, i) => ({ name: `ward-7/${name}`, data: images[i] }));
      entries.push({ name: "ward-7/patient-93121-notes.txt", data: Buffer.from("patient-93121 history: confidential") });
      const ok = await uploadAuditInputs(s.alice, { ...tinyEncoderPair(), candidates: writeTar(entries) });
      const r = await s.alice.submit({ ...ok, config: { views: 2, batchSize: 2 } });
      const done = await s.alice.waitFor(r.body.id);
      assert.equal(done.state, "succeeded", JSON.stringify(done.error));
      const html = await s.alice.request(`/v1/audits/${r.body.id}/report?format=html`);
      assert.equal(html.status, 200);
      assert.match(await html.text(), /patient-93117/, "the owner sees her ids in her report");
      for (const format of ["ndjson", "csv"]) await (await s.alice.request(`/v1/audits/${r.body.id}/results?format=${format}`)).text();

      // A corrupt image (valid PNG signature, garbage after it) among them fails the audit.
      const corrupt = Buffer.concat([images[0].subarray(0, 40), Buffer.from("patient-93122 garbage".repeat(8))]);
      const bad = await s.alice.submit({ ...ok, candidates: await s.alice.putBlob(writeTar([...entries.slice(0, 2), { name: "ward-7/patient-93122-mri.png", data: corrupt }])), config: { views: 2 } });
      const failed = await s.alice.waitFor(bad.body.id);
      assert.notEqual(failed.state, "running");

      const logs = s.logs.join("");
      assert.ok(s.logs.length > 10, "the service logged (debug level)");
      for (let n = 93117; n <= 93122; n++) assert.equal(logs.includes(`patient-${n}`), false, `point id patient-${n} in the log`);
      assert.equal(logs.includes("confidential"), false);
      for (const img of images) {
        const pixels = img.subarray(40, 72); // compressed pixel data, not the common PNG header
        for (const encoded of [pixels.toString("base64"), pixels.toString("hex"), pixels.toString("latin1")]) {
          assert.equal(logs.includes(encoded.slice(0, 24)), false, "image bytes in the log");
        }
      }
    } finally {
      await s.close();
    }
  });
});
