import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { estimateEtaSeconds } from "../../src/audits/eta.ts";
import { ThroughputMeter } from "../../src/jobs/throughput.ts";

describe("estimateEtaSeconds", () => {
  it("extrapolates the stage's rate: 25 of 100 in 10 s → 30 s left", () => {
    assert.equal(estimateEtaSeconds(25, 100, 10_000), 30);
    assert.equal(estimateEtaSeconds(100, 100, 10_000), 0);
  });
  it("has no estimate before there is a rate", () => {
    assert.equal(estimateEtaSeconds(0, 100, 10_000), undefined);
    assert.equal(estimateEtaSeconds(5, 100, 0), undefined);
    assert.equal(estimateEtaSeconds(5, 3, 1000), undefined);
    assert.equal(estimateEtaSeconds(Number.NaN, 100, 1000), undefined);
  });
});

describe("ThroughputMeter", () => {
  it("counts points forever and views over the sliding window", () => {
    const clock = { now: 1_000_000 };
    const meter = new ThroughputMeter({ windowMs: 10_000, now: () => clock.now });
    meter.record({ points: 8, views: 256 });
    clock.now += 5_000;
    meter.record({ points: 8, views: 144 });
    assert.deepEqual(meter.snapshot(), { pointsScoredTotal: 16, viewsPerSecond: 40 }); // 400 views / 10 s
    clock.now += 5_000; // the first batch leaves the window
    assert.deepEqual(meter.snapshot(), { pointsScoredTotal: 16, viewsPerSecond: 14.4 });
    clock.now += 5_000;
    assert.deepEqual(meter.snapshot(), { pointsScoredTotal: 16, viewsPerSecond: 0 });
    meter.record({ points: Number.NaN, views: 5 });
    assert.equal(meter.snapshot().pointsScoredTotal, 16, "a bad sample is ignored");
  });
});
