/**
 * A minimal XML 1.0 well-formedness checker and tree builder for the JUnit tests: enough of the
 * spec to reject what an escaping bug produces (a stray `<` or `&`, an unquoted or unterminated
 * attribute, a forbidden character, unbalanced tags) and to read back decoded names and texts.
 * Not a general parser: no DTDs, CDATA or processing instructions other than the declaration.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/;
const INVALID_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function decodeEntities(raw: string, where: string): string {
  return raw.replace(/&([^;]*);|&/g, (m, body: string | undefined) => {
    if (body === undefined) throw new Error(`bare '&' in ${where}`);
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (body in named) return named[body];
    const num = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
    if (!num) throw new Error(`unknown entity &${body}; in ${where}`);
    const cp = num[1] !== undefined ? parseInt(num[1], 16) : parseInt(num[2], 10);
    const ch = String.fromCodePoint(cp);
    if (INVALID_CHAR.test(ch)) throw new Error(`character reference &${body}; is not allowed in XML 1.0`);
    return ch;
  });
}

/** Parses a document, throwing on anything that is not well-formed. Returns the root element. */
export function parseXml(doc: string): XmlElement {
  const bad = INVALID_CHAR.exec(doc);
  if (bad) throw new Error(`character U+${bad[0].codePointAt(0)!.toString(16)} is not allowed in XML 1.0`);
  let i = 0;
  const rest = () => doc.slice(i);
  const skipSpace = () => {
    while (i < doc.length && /\s/.test(doc[i])) i++;
  };
  if (rest().startsWith("<?xml")) {
    const end = doc.indexOf("?>", i);
    if (end < 0) throw new Error("unterminated XML declaration");
    i = end + 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < doc.length) {
    if (doc[i] !== "<") {
      const next = doc.indexOf("<", i);
      const raw = doc.slice(i, next < 0 ? doc.length : next);
      if (raw.includes("]]>")) throw new Error("']]>' in text");
      const text = decodeEntities(raw, "text");
      if (stack.length === 0) {
        if (text.trim() !== "") throw new Error("text outside the root element");
      } else stack[stack.length - 1].text += text;
      i = next < 0 ? doc.length : next;
      continue;
    }
    if (rest().startsWith("<!--")) {
      const end = doc.indexOf("-->", i);
      if (end < 0) throw new Error("unterminated comment");
      i = end + 3;
      continue;
    }
    if (rest().startsWith("</")) {
      i += 2;
      const m = NAME.exec(rest());
      if (!m) throw new Error("bad closing tag");
      i += m[0].length;
      skipSpace();
      if (doc[i] !== ">") throw new Error(`bad closing tag </${m[0]}`);
      i++;
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> does not close <${open?.name}>`);
      continue;
    }
    i++;
    const m = NAME.exec(rest());
    if (!m) throw new Error(`bad tag at ${i}`);
    i += m[0].length;
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: "" };
    for (;;) {
      const before = i;
      skipSpace();
      if (doc.startsWith("/>", i) || doc[i] === ">") break;
      if (i === before) throw new Error(`attributes of <${el.name}> must be separated by whitespace`);
      const a = NAME.exec(rest());
      if (!a) throw new Error(`bad attribute in <${el.name}>`);
      i += a[0].length;
      skipSpace();
      if (doc[i] !== "=") throw new Error(`attribute ${a[0]} without '='`);
      i++;
      skipSpace();
      const q = doc[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${a[0]}`);
      const end = doc.indexOf(q, i + 1);
      if (end < 0) throw new Error(`unterminated attribute ${a[0]}`);
      const raw = doc.slice(i + 1, end);
      if (raw.includes("<")) throw new Error(`'<' in attribute ${a[0]}`);
      if (a[0] in el.attrs) throw new Error(`duplicate attribute ${a[0]}`);
      // Attribute-value normalization: literal whitespace characters become spaces.
      el.attrs[a[0]] = decodeEntities(raw.replace(/[\t\n\r]/g, " "), `attribute ${a[0]}`);
      i = end + 1;
    }
    const selfClosing = doc.startsWith("/>", i);
    i += selfClosing ? 2 : 1;
    if (stack.length === 0) {
      if (root) throw new Error("more than one root element");
      root = el;
    } else stack[stack.length - 1].children.push(el);
    if (!selfClosing) stack.push(el);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) throw new Error("no root element");
  return root;
}

/** All descendants (depth-first) with the given name. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    out.push(...findAll(c, name));
  }
  return out;
}
