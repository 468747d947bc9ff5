/**
 * /docs: the API reference rendered on the server from the OpenAPI document into one HTML page
 * with inline CSS and no scripts — it works offline, behind an air gap, and under a CSP that
 * forbids every external load. (No Swagger UI bundle to ship or keep patched.)
 */
import type { OpenApiDocument } from "./openapi-document.ts";

type Json = Record<string, unknown>;

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

const esc = (s: unknown): string =>
  String(s ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

const anchor = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, "-");

/** Pretty JSON of a schema with `$ref`s turned into links to the schema section. */
function schemaHtml(schema: unknown): string {
  const text = esc(JSON.stringify(schema, null, 2));
  return `<pre>${text.replace(
    /&quot;#\/components\/schemas\/([A-Za-z0-9_.-]+)&quot;/g,
    (_m, name: string) => `<a href="#schema-${anchor(name)}">&quot;#/components/schemas/${esc(name)}&quot;</a>`,
  )}</pre>`;
}

function contentHtml(content: Json | undefined): string {
  if (!content) return "";
  return Object.entries(content)
    .map(([type, media]) => `<details><summary><code>${esc(type)}</code></summary>${schemaHtml((media as Json).schema ?? {})}</details>`)
    .join("");
}

function parametersHtml(params: Json[] | undefined): string {
  if (!params?.length) return "";
  const rows = params
    .map((p) => {
      const schema = (p.schema ?? {}) as Json;
      const type = [schema.type, schema.format, schema.pattern ? `pattern ${schema.pattern}` : ""].filter(Boolean).join(", ");
      return `<tr><td><code>${esc(p.name)}</code>${p.required ? " *" : ""}</td><td>${esc(p.in)}</td><td>${esc(type)}</td><td>${esc(p.description ?? schema.description ?? "")}</td></tr>`;
    })
    .join("");
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>${rows}</table>`;
}

function operationHtml(path: string, method: string, op: Json): string {
  const id = anchor(`${method}-${path}`);
  const secured = Array.isArray(op.security) && op.security.length > 0;
  const body = op.requestBody as Json | undefined;
  const responses = Object.entries((op.responses ?? {}) as Record<string, Json>)
    .map(([status, r]) => `<li><b>${esc(status)}</b> ${esc(r.description)}${contentHtml(r.content as Json | undefined)}</li>`)
    .join("");
  return `<section class="op" id="${id}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p><b>${esc(op.summary)}</b>${secured ? ' <span class="lock">bearer token</span>' : ""}</p>
${op.description ? `<p>${esc(op.description)}</p>` : ""}
${parametersHtml(op.parameters as Json[] | undefined)}
${body ? `<h4>Request body${body.required ? " *" : ""}</h4>${contentHtml(body.content as Json | undefined)}` : ""}
<h4>Responses</h4><ul>${responses}</ul>
</section>`;
}

export function renderDocsPage(document: OpenApiDocument): string {
  const doc = document as unknown as Json;
  const info = (doc.info ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Json>;
  const ops: { path: string; method: string; op: Json }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) if (item[method]) ops.push({ path, method, op: item[method] as Json });
  }
  const tags = ((doc.tags ?? []) as Json[]).map((t) => String(t.name));
  const byTag = (tag: string) => ops.filter((o) => ((o.op.tags as string[] | undefined) ?? [])[0] === tag);
  const untagged = ops.filter((o) => !tags.includes(((o.op.tags as string[] | undefined) ?? [])[0] ?? ""));
  const groups = [...tags.map((t) => ({ name: t, ops: byTag(t) })), { name: "other", ops: untagged }].filter((g) => g.ops.length);
  const toc = groups
    .map(
      (g) =>
        `<li>${esc(g.name)}<ul>${g.ops
          .map((o) => `<li><a href="#${anchor(`${o.method}-${o.path}`)}">${esc(o.method.toUpperCase())} ${esc(o.path)}</a></li>`)
          .join("")}</ul></li>`,
    )
    .join("");
  const schemas = Object.entries((((doc.components ?? {}) as Json).schemas ?? {}) as Json)
    .map(([name, s]) => `<section id="schema-${anchor(name)}"><h3>${esc(name)}</h3>${schemaHtml(s)}</section>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d2330}
nav{width:18rem;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f5f8;padding:1rem;box-sizing:border-box;font-size:13px}
nav ul{padding-left:1rem}main{padding:1rem 2rem;max-width:60rem;overflow:hidden}
.op{border-top:1px solid #dde;padding:.5rem 0}.m{display:inline-block;min-width:4.5em;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 4px}
.get{background:#2f7d4f}.post{background:#2a5db0}.put{background:#a86b00}.delete{background:#b3261e}.head{background:#5b5b7a}
.lock{font-size:12px;background:#eee;border-radius:4px;padding:1px 5px}pre{background:#f6f7f9;padding:.5rem;overflow:auto;font-size:12px}
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:2px 6px;text-align:left;vertical-align:top}
</style></head><body>
<nav><b>${esc(info.title)}</b> ${esc(info.version)}<ul>${toc}<li><a href="#schemas">schemas</a></li></ul><p><a href="/openapi.json">openapi.json</a></p></nav>
<main><h1>${esc(info.title)}</h1><p>${esc(info.description)}</p>
${groups.map((g) => `<h2>${esc(g.name)}</h2>${g.ops.map((o) => operationHtml(o.path, o.method, o.op)).join("\n")}`).join("\n")}
<h2 id="schemas">Schemas</h2>${schemas}
</main></body></html>`;
}
