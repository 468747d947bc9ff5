/** A decoded image: 8-bit RGB, row-major, channels last (H×W×3). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** length = width * height * 3 */
  readonly data: Uint8Array;
}

export type PointRole = "candidate" | "control";

