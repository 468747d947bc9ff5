/**
 * Plain-text helpers for terminal output. Ids are uploaded file names: printed raw, an ESC byte
 * could drive the terminal (colour, cursor, title changes) and bidi overrides could reorder what
 * the reader sees, so those characters are shown as U+FFFD.
 */

const TERMINAL_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_UNSAFE, "\uFFFD");
}

/** Width in terminal cells, counted as one per code point (wide CJK glyphs are not accounted for). */
export function textWidth(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Keeps the start and the end (where a file name's distinctive part usually is), `…` in between. */
export function truncateMiddle(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  if (max <= 1) return "…".slice(0, max);
  const tail = Math.floor((max - 1) / 2);
  const head = max - 1 - tail;
  return chars.slice(0, head).join("") + "…" + chars.slice(chars.length - tail).join("");
}

export function padRight(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - textWidth(text)));
}

export function padLeft(text: string, width: number): string {
  return " ".repeat(Math.max(0, width - textWidth(text))) + text;
}

/** Greedy word wrap; words longer than the line are cut. Continuation lines get `indent`. */
export function wrap(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  let line = "";
  const limit = (): number => width - (lines.length === 0 ? 0 : textWidth(indent));
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (textWidth(word) > limit()) {
      if (line) {
        lines.push(line);
        line = "";
      }
      const cut = Array.from(word);
      const n = limit();
      lines.push(cut.slice(0, n).join(""));
      word = cut.slice(n).join("");
    }
    if (!line) line = word;
    else if (textWidth(line) + 1 + textWidth(word) <= limit()) line += " " + word;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}
