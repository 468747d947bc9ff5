/**
 * Escaping for HTML and XML text and attribute values. Point ids and warnings reach the reports
 * verbatim from uploaded file names, so every user-controlled string goes through here.
 */

// Code points XML 1.0 does not allow anywhere, even escaped (C0 controls but tab/LF/CR, lone
// surrogates, U+FFFE/U+FFFF). A document carrying one is not well-formed and parsers reject it.
const XML_INVALID = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * Replaces characters XML 1.0 forbids with U+FFFD rather than deleting them, so `a\u0001b` reads
 * `a�b`: the reader sees that the name held something unprintable, and two ids that differ only
 * there stay distinguishable.
 */
export function xmlSafeText(text: string): string {
  return text.replace(XML_INVALID, "\uFFFD");
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  // In attribute values, literal tab/LF/CR are normalized to spaces by parsers; character references survive.
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

/** Escapes for use in element content and in single- or double-quoted attribute values (HTML and XML). */
export function escapeMarkup(text: string): string {
  return xmlSafeText(text).replace(/[&<>"'\t\n\r]/g, (c) => ENTITIES[c]);
}
