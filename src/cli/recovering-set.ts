/**
 * A point set whose load failures say which point failed (role and index), so a local audit can
 * leave out an undecodable image and carry on (`--on-invalid skip`) instead of losing the run.
 */
import { isSslmemError } from "../core/errors.ts";
import type { PointSet } from "../data/point-set.ts";

export class InvalidPointError extends Error {
  constructor(
    readonly role: "candidate" | "control",
    readonly local: number,
    readonly id: string,
    readonly reason: string,
    readonly original: unknown,
  ) {
    super(reason);
    this.name = "InvalidPointError";
  }
}

/**
 * Codes that mean "this one point cannot be read" (not: the whole input is broken). An image over
 * the size limits (image_too_large) is not among them: a limit is a refusal, not a bad file.
 */
const POINT_CODES = new Set(["image_invalid"]);

export function recoveringSet(set: PointSet, role: "candidate" | "control"): PointSet {
  return {
    get ids() {
      return set.ids;
    },
    get size() {
      return set.size;
    },
    get kind() {
      return set.kind;
    },
    get skipped() {
      return set.skipped;
    },
    async load(i) {
      try {
        return await set.load(i);
      } catch (e) {
        if (isSslmemError(e) && POINT_CODES.has(e.code)) throw new InvalidPointError(role, i, set.ids[i], e.message, e);
        throw e;
      }
    },
    close: () => set.close(),
  };
}
