/**
 * How a point id is shown to a person: in the HTML, JUnit, SARIF and terminal reports and in log
 * lines. Ids are file names chosen by the uploader; a right-to-left override (U+202E) makes
 * `gpj.exe` read as `exe.jpg`, zero-width characters make two ids look identical, control
 * characters rewrite a terminal. Those characters are shown as `\uXXXX` escapes, so what a
 * reader sees names the id exactly; every other character is kept. The JSON report and the
 * results keep the exact id (they are for programs).
 */

// Bidi embeddings, overrides, isolates and marks; zero-width and invisible formatting
// characters (incl. the BOM, soft hyphen, Mongolian vowel separator, invisible math operators,
// tag characters); C0/C1 controls and DEL; line/paragraph separators; lone surrogates.
const HIDDEN =
  /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB\u{E0000}-\u{E007F}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/gu;

function escapeCodePoint(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return cp > 0xffff ? `\\u{${cp.toString(16).toUpperCase()}}` : `\\u${cp.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The id with invisible, bidi and control characters written as `\uXXXX`. */
export function displayId(id: string): string {
  return id.replace(HIDDEN, escapeCodePoint);
}

/** Whether displayId changes the id (it holds a character a reader could not see). */
export function hasHiddenCharacters(id: string): boolean {
  HIDDEN.lastIndex = 0;
  const found = HIDDEN.test(id);
  HIDDEN.lastIndex = 0;
  return found;
}
