import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Gate } from "../jobs/test-executor.ts";
import { createAudit, problemOf, startHarness, waitForState, type Harness } from "./harness.ts";
import { pollUntil } from "../helpers/poll.ts";

interface Frame {
  id?: number;
  event?: string;
  data?: Record<string, unknown>;
  comment?: string;
  retry?: number;
}

/** Reads SSE frames as they arrive; `next()` resolves with the next frame, null at the end. */
function sseReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return {
    async next(): Promise<Frame | null> {
      for (;;) {
        const end = buf.indexOf("\n\n");
        if (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const frame: Frame = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) frame.comment = line.slice(1).trim();
            else if (line.startsWith("id: ")) frame.id = Number(line.slice(4));
            else if (line.startsWith("event: ")) frame.event = line.slice(7);
            else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6)) as Record<string, unknown>;
            else if (line.startsWith("retry: ")) frame.retry = Number(line.slice(7));
          }
          return frame;
        }
        const r = await reader.read();
        if (r.done) return null;
        buf += r.value;
      }
    },
    async all(): Promise<Frame[]> {
      const out: Frame[] = [];
      for (let f = await this.next(); f !== null; f = await this.next()) out.push(f);
      return out;
    },
    cancel: () => reader.cancel(),
  };
}

describe("GET /v1/audits/{id}/events", () => {
  let h: Harness;
  let hold: Gate | undefined;
  before(async () => {
    h = await startHarness({ config: { sseHeartbeatMs: 20, ssePollMs: 20 }, executor: { firstBatchGate: () => hold } });
  });
  after(async () => {
    hold?.open();
    await h.close();
  });

  it("streams state and progress events live, with ids, and ends after the terminal state", async () => {
    hold = new Gate();
    const id = await createAudit(h);
    await hold.reached;
    const res = await h.request(`/v1/audits/${id}/events`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const sse = sseReader(res);
    assert.equal((await sse.next())?.retry, 3000);
    const early: Frame[] = [];
    // Before the gate opens: queued, running, then keep-alive comments while nothing happens.
    for (let f = await sse.next(); f && f.comment === undefined; f = await sse.next()) early.push(f);
    assert.deepEqual(
      early.map((f) => [f.id, f.event, f.data?.state]),
      [
        [1, "state", "queued"],
        [2, "state", "running"],
      ],
    );
    hold.open();
    hold = undefined;
    const rest = (await sse.all()).filter((f) => f.comment === undefined);
    assert.deepEqual(
      rest.map((f) => f.event),
      ["progress", "progress", "progress", "state"],
    );
    assert.deepEqual([rest[2].data?.stage, rest[2].data?.done, rest[2].data?.total], ["measuring", 10, 10]);
    assert.equal(rest[3].data?.state, "succeeded");
    assert.deepEqual(
      rest.map((f) => f.id),
      [3, 4, 5, 6],
    );
  });

  it("resumes after Last-Event-ID (header or query), and ends at once after the terminal event", async () => {
    const id = await createAudit(h);
    await waitForState(h.store, id, ["succeeded"]);
    const fromHeader = await sseReader(await h.request(`/v1/audits/${id}/events`, { headers: { "last-event-id": "4" } })).all();
    assert.deepEqual(
      fromHeader.filter((f) => f.id !== undefined).map((f) => f.id),
      [5, 6],
    );
    const fromQuery = await sseReader(await h.request(`/v1/audits/${id}/events?lastEventId=5`)).all();
    assert.deepEqual(
      fromQuery.filter((f) => f.id !== undefined).map((f) => [f.id, f.data?.state]),
      [[6, "succeeded"]],
    );
    const afterEnd = await sseReader(await h.request(`/v1/audits/${id}/events`, { headers: { "last-event-id": "6" } })).all();
    assert.deepEqual(afterEnd, [{ retry: 3000 }]);
  });

  it("ends the stream of a cancelled audit with its cancelled state", async () => {
    hold = new Gate();
    const id = await createAudit(h);
    await hold.reached;
    const sse = sseReader(await h.request(`/v1/audits/${id}/events`));
    assert.equal((await h.request(`/v1/audits/${id}:cancel`, { method: "POST" })).status, 200);
    hold = undefined;
    const states = (await sse.all()).filter((f) => f.event === "state").map((f) => f.data?.state);
    assert.deepEqual(states, ["queued", "running", "cancelled"]);
  });

  it("stops following an audit when the client disconnects", async () => {
    const own = await startHarness({ startRunner: false, config: { sseHeartbeatMs: 10_000, ssePollMs: 10_000 } });
    try {
      const id = await createAudit(own);
      const sse = sseReader(await own.request(`/v1/audits/${id}/events`));
      await sse.next(); // retry
      assert.equal((await sse.next())?.data?.state, "queued");
      await pollUntil(() => own.notifier.waiting() > 0, { what: "the stream to wait for events" });
      assert.equal(own.notifier.waiting(), 1, "the stream waits for new events");
      await sse.cancel();
      await pollUntil(() => own.notifier.waiting() === 0, { what: "the closed stream to stop waiting" }).catch(() => undefined);
      assert.equal(own.notifier.waiting(), 0, "a closed stream stops waiting");
    } finally {
      await own.close();
    }
  });

  it("refuses a malformed Last-Event-ID", async () => {
    const id = await createAudit(h);
    const res = await h.request(`/v1/audits/${id}/events`, { headers: { "last-event-id": "abc" } });
    assert.equal(res.status, 400);
    const problem = await problemOf(res);
    assert.deepEqual((problem.errors as { path: string; location: string }[]).map((e) => [e.path, e.location]), [["last-event-id", "header"]]);
  });
});
