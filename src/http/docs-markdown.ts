/**
 * A small Markdown renderer for the /docs page: the OpenAPI descriptions and the "Reading an audit"
 * guide. Everything is escaped first, then the subset the project writes is turned into HTML —
 * headings, paragraphs, lists, tables, fenced code, `code`, **bold**, *emphasis* and links (http(s),
 * relative and #anchors only). No raw HTML passes through.
 */
const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

const SAFE_HREF = /^(https?:\/\/|#|\/|[\w.-]+(\/[\w.-]+)*(#[\w-]*)?$)/;

export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/<[^>]+>/g, "")
    .replace(/[^a-z0-9 -]/g, "")
    .trim()
    .replace(/ +/g, "-");
}

/** Inline Markdown of one escaped line. */
export function renderInline(text: string): string {
  const codes: string[] = [];
  let s = esc(text).replace(/`([^`]+)`/g, (_m, code: string) => {
    codes.push(`<code>${code}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  s = s
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?=[^*\w]|$)/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_m, label: string, href: string) => {
      const raw = href.replace(/&amp;/g, "&");
      return SAFE_HREF.test(raw) ? `<a href="${href}">${label}</a>` : label;
    });
  return s.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => codes[Number(i)]);
}

function table(rows: string[]): string {
  const cells = (line: string) => line.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
  const [head, , ...body] = rows;
  return `<table><tr>${cells(head).map((c) => `<th>${renderInline(c)}</th>`).join("")}</tr>${body
    .map((r) => `<tr>${cells(r).map((c) => `<td>${renderInline(c)}</td>`).join("")}</tr>`)
    .join("")}</table>`;
}

/** Block Markdown. `headingOffset` demotes headings (a guide's # becomes the page's h2). */
export function renderMarkdown(markdown: string, headingOffset = 0): string {
  const lines = markdown.replace(/\r\n/g, "\n").split("\n");
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith("```")) {
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i].startsWith("```"); i++) code.push(lines[i]);
      i++;
      out.push(`<pre><code>${esc(code.join("\n"))}</code></pre>`);
      continue;
    }
    const heading = /^(#{1,6}) (.*)$/.exec(line);
    if (heading) {
      const level = Math.min(6, heading[1].length + headingOffset);
      const html = renderInline(heading[2]);
      out.push(`<h${level} id="${slug(heading[2])}">${html}</h${level}>`);
      i++;
      continue;
    }
    if (line.startsWith("|")) {
      const rows: string[] = [];
      for (; i < lines.length && lines[i].startsWith("|"); i++) rows.push(lines[i]);
      out.push(table(rows));
      continue;
    }
    const item = /^(\s*)(-|\d+\.) (.*)$/.exec(line);
    if (item) {
      const ordered = /\d/.test(item[2]);
      const items: string[] = [];
      for (; i < lines.length; i++) {
        const m = /^\s*(-|\d+\.) (.*)$/.exec(lines[i]);
        if (m) items.push(m[2]);
        else if (/^\s{2,}\S/.test(lines[i]) && items.length) items[items.length - 1] += " " + lines[i].trim();
        else break;
      }
      const tag = ordered ? "ol" : "ul";
      out.push(`<${tag}>${items.map((t) => `<li>${renderInline(t)}</li>`).join("")}</${tag}>`);
      continue;
    }
    if (line.trim() === "") {
      i++;
      continue;
    }
    const para: string[] = [];
    for (; i < lines.length && lines[i].trim() !== "" && !/^(#{1,6} |```|\||\s*(-|\d+\.) )/.test(lines[i]); i++) para.push(lines[i].trim());
    out.push(`<p>${renderInline(para.join(" "))}</p>`);
  }
  return out.join("\n");
}
