import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Gate } from "../jobs/test-executor.ts";
import { createAudit, startHarness, waitForState } from "./harness.ts";

describe("restart", () => {
  it("keeps finished audits and resumes the running and queued ones after the service restarts", async () => {
    const gate = new Gate();
    // The second audit to start is held before its third batch (indices 0–7 committed).
    const first = await startHarness({ executor: { gateAt: (ordinal, at) => (ordinal === 1 && at === 8 ? gate : undefined) } });
    let dir = first.dir;
    let done: string, interrupted: string, waiting: string;
    try {
      done = await createAudit(first);
      await waitForState(first.store, done, ["succeeded"]);
      interrupted = await createAudit(first, { config: { seed: 1 } });
      waiting = await createAudit(first, { config: { seed: 2 } });
      await gate.reached; // two batches of `interrupted` are committed
      assert.equal(await first.store.countResults(interrupted), 8);
    } finally {
      await first.close({ keepDir: true });
    }

    const second = await startHarness({ dir });
    dir = second.dir;
    try {
      await waitForState(second.store, waiting, ["succeeded"]);
      const a = (await (await second.request(`/v1/audits/${interrupted}`)).json()) as { state: string; attempt: number };
      assert.equal(a.state, "succeeded");
      assert.equal(a.attempt, 2);
      assert.equal(await second.store.countResults(interrupted), 10);
      const finished = (await (await second.request(`/v1/audits/${done}`)).json()) as { state: string; attempt: number };
      assert.deepEqual([finished.state, finished.attempt], ["succeeded", 1]);
      assert.deepEqual(second.executor.started, [interrupted, waiting], "resumed in creation order, the finished one untouched");
      const states = (await second.store.readEvents(interrupted, 0)).filter((e) => e.type === "state").map((e) => e.data.state);
      assert.deepEqual(states, ["queued", "running", "queued", "running", "succeeded"]);
    } finally {
      await second.close();
    }
  });
});
