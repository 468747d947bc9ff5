/**
 * Thumbnails of candidate images for the HTML report: downscaled to fit maxSide × maxSide (never
 * enlarged), encoded as PNG and as JPEG (quality 80), and the smaller of the two returned as a
 * data: URI. Photos come out far smaller as JPEG; flat synthetic images as PNG.
 */
import sharp from "sharp";
import type { RgbImage } from "../core/image.ts";
import { SslmemError } from "../core/errors.ts";

export async function makeThumbnail(image: RgbImage, maxSide = 64): Promise<string> {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 3) {
    throw new SslmemError("internal", `makeThumbnail got an invalid RGB image (${width}×${height}, ${data.length} bytes)`);
  }
  if (!Number.isInteger(maxSide) || maxSide < 1) throw new SslmemError("internal", `makeThumbnail needs a positive integer maxSide, got ${maxSide}`);
  const resized = await sharp(data, { raw: { width, height, channels: 3 } })
    .resize({ width: maxSide, height: maxSide, fit: "inside", withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: resized.info.width, height: resized.info.height, channels: 3 as const } };
  const [png, jpeg] = await Promise.all([
    sharp(resized.data, raw).png({ compressionLevel: 9 }).toBuffer(),
    sharp(resized.data, raw).jpeg({ quality: 80 }).toBuffer(),
  ]);
  return png.length <= jpeg.length ? `data:image/png;base64,${png.toString("base64")}` : `data:image/jpeg;base64,${jpeg.toString("base64")}`;
}
