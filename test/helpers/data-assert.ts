/** Asserts that a promise rejects with an SslmemError of exactly `code` (and returns it). */
import assert from "node:assert/strict";
import { SslmemError } from "../../src/core/errors.ts";

export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<SslmemError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof SslmemError, `expected SslmemError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected rejection with ${code}, but it resolved`);
}
