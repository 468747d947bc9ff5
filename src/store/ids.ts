/**
 * Sortable unique ids: a prefix, 10 Crockford base32 characters of milliseconds since the epoch,
 * 16 of randomness (80 bits) — the ULID layout. Within one generator ids strictly increase even
 * when the clock stalls or steps back (the random part is incremented), so "newest first" is
 * `ORDER BY id DESC` and a cursor is just the last id seen.
 */
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const MAX_TIME = 2 ** 48 - 1;

export const ID_BODY_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}";

export type IdGenerator = (prefix: string) => string;

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function randomDigits(): number[] {
  const bytes = randomBytes(RANDOM_CHARS);
  return Array.from(bytes, (b) => b & 31);
}

/** Adds one to a base32 digit array; false on overflow. */
function increment(digits: number[]): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] < 31) {
      digits[i]++;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

export function createIdGenerator(now: () => number = Date.now): IdGenerator {
  let lastTime = -1;
  let lastRandom: number[] = [];
  return (prefix: string) => {
    let time = Math.min(Math.max(Math.floor(now()), 0), MAX_TIME);
    if (time <= lastTime) {
      time = lastTime;
      if (!increment(lastRandom)) {
        time = lastTime + 1;
        lastRandom = randomDigits();
      }
    } else {
      lastRandom = randomDigits();
    }
    lastTime = time;
    return prefix + encodeTime(time) + lastRandom.map((d) => ALPHABET[d]).join("");
  };
}

export function isId(prefix: string, value: string): boolean {
  return new RegExp(`^${prefix}${ID_BODY_PATTERN}$`).test(value);
}
