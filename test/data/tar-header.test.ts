import assert from "node:assert/strict";
import { test } from "node:test";
import { parseNumeric, parsePaxRecords, parseTarHeader, tarChecksumOk } from "../../src/data/tar-header.ts";
import { tarHeader } from "../helpers/data-tar.ts";

test("numeric fields: octal with NUL/space padding, GNU base-256, malformed → null", () => {
  assert.equal(parseNumeric(Buffer.from("0000644\0")), 0o644);
  assert.equal(parseNumeric(Buffer.from(" 17 \0")), 15);
  assert.equal(parseNumeric(Buffer.from("\0\0\0\0")), 0);
  assert.equal(parseNumeric(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x01])), 2 * 65536 + 1);
  assert.equal(parseNumeric(Buffer.from("12a4\0")), null);
  assert.equal(parseNumeric(Buffer.from([0xff, 0xff])), null);
});

test("checksum: a written header verifies, one flipped byte does not", () => {
  const h = tarHeader({ name: "a.png", size: 10, type: "0" });
  assert.equal(tarChecksumOk(h), true);
  h[0] ^= 1;
  assert.equal(tarChecksumOk(h), false);
});

test("ustar prefix joins the name; GNU magic ignores the prefix bytes", () => {
  const posix = tarHeader({ name: "b.png", prefix: "dir/sub", size: 3, type: "0" });
  assert.deepEqual(parseTarHeader(posix), { name: "dir/sub/b.png", size: 3, type: "0" });
  const gnu = tarHeader({ name: "b.png", prefix: "dir/sub", size: 3, type: "0", gnu: true });
  assert.equal(parseTarHeader(gnu)?.name, "b.png");
});

test("pax records: lengths count the whole record; malformed input → null", () => {
  const rec = "19 path=dir/é.png\n"; // 3 + 15 bytes + newline: "é" is two bytes
  assert.equal(Buffer.byteLength(rec), 19);
  assert.deepEqual([...(parsePaxRecords(Buffer.from(rec + "11 size=42\n")) ?? [])], [
    ["path", "dir/é.png"],
    ["size", "42"],
  ]);
  assert.equal(parsePaxRecords(Buffer.from("99 path=x\n")), null);
  assert.equal(parsePaxRecords(Buffer.from("x path=y\n")), null);
});
