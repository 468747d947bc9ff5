import assert from "node:assert/strict";
import { test } from "node:test";
import { SslmemError } from "../../src/core/errors.ts";
import { normalizeMemberPath } from "../../src/data/member-path.ts";

test("member names normalize to POSIX ids", () => {
  assert.deepEqual(normalizeMemberPath("a/b.png"), { id: "a/b.png", isDirectory: false });
  assert.deepEqual(normalizeMemberPath("./a//./b.png"), { id: "a/b.png", isDirectory: false });
  assert.deepEqual(normalizeMemberPath("a\\b.png"), { id: "a/b.png", isDirectory: false });
  assert.deepEqual(normalizeMemberPath("a/"), { id: "a", isDirectory: true });
  assert.deepEqual(normalizeMemberPath("./"), { id: "", isDirectory: true });
  assert.deepEqual(normalizeMemberPath("..a/b..png"), { id: "..a/b..png", isDirectory: false });
});

test("names that could leave the root are archive_unsafe", () => {
  for (const name of ["../x.png", "a/../../x.png", "a/../b.png", "/etc/x.png", "\\\\server\\x.png", "..\\x.png", "C:/x.png", "c:x.png", "a\0.png"]) {
    assert.throws(
      () => normalizeMemberPath(name),
      (e: unknown) => e instanceof SslmemError && e.code === "archive_unsafe" && e.message.includes(JSON.stringify(name)),
      name,
    );
  }
});
