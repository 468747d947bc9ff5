/**
 * LayerMem overhead (part of `npm run bench`): an audit with `layers: "auto"` against the same
 * audit without layers, on the ResNet-18 bench encoder pair (bench/encoders.ts: torchvision's
 * architecture at 224×224, random weights; `auto` takes its 8 residual block outputs and the
 * representation), in one process, alternating plain and LayerMem runs so that other load on the
 * machine affects both alike. Prints the best (lowest) time of each and their ratio (target ≤ 1.3).
 *
 * Options: --points N (default 4) --views K pairs (default 4) --rounds R (default 3)
 *          --encoder resnet18|conv64 (default resnet18)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import sharp from "sharp";
import { AuditConfigSchema } from "../src/core/audit-config.ts";
import { openPointSet } from "../src/data/sources.ts";
import { prepareAudit } from "../src/engine/audit.ts";
import { measurePoints } from "../src/engine/measure.ts";
import { benchEncoder, CONV64, resnet18 } from "./encoders.ts";

const { values } = parseArgs({
  options: {
    points: { type: "string", default: "4" },
    views: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    encoder: { type: "string", default: "resnet18" },
  },
});
const points = Number(values.points);
const rounds = Number(values.rounds);
const isResnet = values.encoder === "resnet18";
const size = isResnet ? 224 : 64;
const models = isResnet ? { target: resnet18(1), reference: resnet18(2) } : { target: benchEncoder({ ...CONV64, seed: 1 }), reference: benchEncoder({ ...CONV64, seed: 2 }) };

const dir = mkdtempSync(join(tmpdir(), "sslmem-layermem-bench-"));
try {
  for (let i = 0; i < points; i++) {
    const data = Buffer.alloc(size * size * 3);
    for (let j = 0; j < data.length; j++) data[j] = (i * 7919 + j * 104729) % 251;
    await sharp(data, { raw: { width: size, height: size, channels: 3 } }).png().toFile(join(dir, `p${i}.png`));
  }
  const threads = availableParallelism();
  async function timeAudit(layers: boolean): Promise<{ seconds: number; layerCount: number; mode: string }> {
    const candidates = await openPointSet(dir);
    const config = AuditConfigSchema.parse({ views: Number(values.views), batchSize: points, ...(layers ? { layers: "auto" } : {}) });
    const prepared = await prepareAudit({ ...models, candidates }, config, { providers: ["cpu"], threads, memoryBudget: null });
    try {
      const start = performance.now();
      await measurePoints(prepared.context);
      return { seconds: (performance.now() - start) / 1000, layerCount: prepared.context.layers?.length ?? 0, mode: prepared.pipeline.mode };
    } finally {
      await prepared.release();
      await candidates.close();
    }
  }
  await timeAudit(false); // warm-up (page cache, ORT kernels)
  let plain = Infinity;
  let layered = Infinity;
  let info = { layerCount: 0, mode: "?" };
  for (let r = 0; r < rounds; r++) {
    const a = await timeAudit(false);
    const b = await timeAudit(true);
    plain = Math.min(plain, a.seconds);
    layered = Math.min(layered, b.seconds);
    info = b;
    process.stderr.write(`  layermem round ${r + 1}: plain ${a.seconds.toFixed(2)} s, layers auto ${b.seconds.toFixed(2)} s\n`);
  }
  const ratio = layered / plain;
  console.log(`\nLayerMem overhead — ${values.encoder} ${size}×${size}, ${points} points, K=${values.views} pairs, ${info.layerCount} layers (auto), ${info.mode} pipeline, best of ${rounds}`);
  console.log(`plain ${plain.toFixed(2)} s   layers auto ${layered.toFixed(2)} s   ratio ${ratio.toFixed(2)}${ratio <= 1.3 ? "" : "  (target ≤ 1.30 NOT met)"}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
