import { describe, it } from "node:test";
import assert from "node:assert/strict";
import sharp from "sharp";
import { SslmemError } from "../../src/core/errors.ts";
import type { RgbImage } from "../../src/core/image.ts";
import { safeThumbnailUri } from "../../src/report/html.ts";
import { makeThumbnail } from "../../src/report/thumbnails.ts";

function gradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 128;
    }
  }
  return { width, height, data };
}

async function decode(uri: string) {
  const bytes = Buffer.from(uri.slice(uri.indexOf(",") + 1), "base64");
  return sharp(bytes).raw().toBuffer({ resolveWithObject: true });
}

describe("thumbnails", () => {
  it("downscales to fit maxSide, keeps the aspect ratio, and gives an accepted data URI", async () => {
    const uri = await makeThumbnail(gradient(200, 100));
    assert.match(uri, /^data:image\/(png|jpeg);base64,/);
    assert.equal(safeThumbnailUri(uri), uri);
    const { info, data } = await decode(uri);
    assert.equal(info.width, 64);
    assert.equal(info.height, 32);
    // Still the gradient: red grows left to right.
    const red = (x: number) => data[(16 * info.width + x) * info.channels];
    assert.ok(red(60) - red(3) > 150, `red ${red(3)} → ${red(60)}`);
  });

  it("never enlarges a small image and honours maxSide", async () => {
    assert.equal((await decode(await makeThumbnail(gradient(10, 6)))).info.width, 10);
    const { info } = await decode(await makeThumbnail(gradient(90, 300), 32));
    assert.deepEqual([info.width, info.height], [10, 32]);
  });

  it("rejects an inconsistent image as an internal error", async () => {
    await assert.rejects(makeThumbnail({ width: 4, height: 4, data: new Uint8Array(10) }), (e: unknown) => e instanceof SslmemError && e.code === "internal");
    await assert.rejects(makeThumbnail(gradient(4, 4), 0), SslmemError);
  });
});
