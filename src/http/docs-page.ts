/**
 * /docs: the API reference rendered on the server from the OpenAPI document into one HTML page
 * with inline CSS and no scripts — it works offline, behind an air gap, and under a CSP that
 * forbids every external load. (No Swagger UI bundle to ship or keep patched.)
 *
 * Every schema is shown as a table of its fields (type, required, default, description as
 * Markdown), references are links, each operation has an example request body built from its
 * schema and a curl command, and the "Reading an audit" guide (docs/reading-an-audit.md) is part
 * of the page, at #reading-an-audit.
 */
import { readFileSync } from "node:fs";
import { renderInline, renderMarkdown } from "./docs-markdown.ts";
import type { OpenApiDocument } from "./openapi-document.ts";

type Json = Record<string, unknown>;

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;
const MAX_DEPTH = 4;

const esc = (s: unknown): string =>
  String(s ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);

const anchor = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, "-");

const refName = (ref: unknown): string | undefined =>
  typeof ref === "string" && ref.startsWith("#/components/schemas/") ? ref.slice("#/components/schemas/".length) : undefined;

class SchemaRenderer {
  constructor(private readonly schemas: Record<string, Json>) {}

  resolve(schema: Json): Json {
    const name = refName(schema.$ref);
    return name ? (this.schemas[name] ?? {}) : schema;
  }

  /** A short type label; references are links to their schema's section. */
  type(schema: Json | undefined): string {
    if (!schema) return "any";
    const name = refName(schema.$ref);
    if (name) return `<a href="#schema-${anchor(name)}">${esc(name)}</a>`;
    if (schema.const !== undefined) return `<code>${esc(JSON.stringify(schema.const))}</code>`;
    if (Array.isArray(schema.enum)) return schema.enum.map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(" | ");
    for (const key of ["anyOf", "oneOf"] as const) {
      if (Array.isArray(schema[key])) return (schema[key] as Json[]).map((s) => this.type(s)).join(" | ");
    }
    if (schema.type === "array") {
      if (Array.isArray(schema.prefixItems)) return `[${(schema.prefixItems as Json[]).map((s) => this.type(s)).join(", ")}]`;
      return `${this.type(schema.items as Json | undefined)}[]`;
    }
    const bounds = [
      schema.minimum !== undefined ? `≥ ${schema.minimum}` : "",
      schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : "",
      schema.maximum !== undefined ? `≤ ${schema.maximum}` : "",
      schema.exclusiveMaximum !== undefined ? `< ${schema.exclusiveMaximum}` : "",
      schema.pattern !== undefined ? `pattern <code>${esc(schema.pattern)}</code>` : "",
    ].filter(Boolean);
    const base = esc(Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type ?? (schema.properties ? "object" : "any")));
    return bounds.length ? `${base} (${bounds.join(", ")})` : base;
  }

  /** Rows of an object's fields; inline objects are expanded with dotted names. */
  rows(schema: Json, prefix = "", depth = 0): string[] {
    const s = this.resolve(schema);
    const props = (s.properties ?? {}) as Record<string, Json>;
    const required = new Set((s.required ?? []) as string[]);
    const out: string[] = [];
    for (const [name, raw] of Object.entries(props)) {
      const field = raw;
      const inner = this.resolve(field);
      const description = String(field.description ?? inner.description ?? "");
      const dflt = field.default ?? inner.default;
      out.push(
        `<tr><td><code>${esc(prefix + name)}</code>${required.has(name) ? " *" : ""}</td><td>${this.type(field)}</td>` +
          `<td>${dflt !== undefined ? `<code>${esc(JSON.stringify(dflt))}</code>` : ""}</td><td>${renderInline(description)}</td></tr>`,
      );
      const expandable = !refName(field.$ref) && inner.type === "object" && inner.properties && depth < MAX_DEPTH;
      if (expandable) out.push(...this.rows(inner, `${prefix}${name}.`, depth + 1));
    }
    return out;
  }

  table(schema: Json): string {
    const rows = this.rows(schema);
    if (rows.length === 0) return `<p>Type: ${this.type(schema)}</p>`;
    return `<table class="fields"><tr><th>field</th><th>type</th><th>default</th><th>description</th></tr>${rows.join("")}</table>`;
  }

  /** An example value built from the schema: examples, defaults, consts, first enum values. */
  example(schema: Json | undefined, depth = 0): unknown {
    if (!schema || depth > MAX_DEPTH) return null;
    const s = this.resolve(schema);
    if (schema.example !== undefined) return schema.example;
    if (s.example !== undefined) return s.example;
    if (s.const !== undefined) return s.const;
    if (Array.isArray(s.enum)) return s.enum[0];
    // A union shows its first member at the union's own depth (a request body that is a oneOf
    // still shows its config with the defaults).
    for (const key of ["anyOf", "oneOf"] as const) if (Array.isArray(s[key])) return this.example((s[key] as Json[])[0], depth);
    if (s.default !== undefined && s.type !== "object") return s.default;
    switch (s.type) {
      case "object": {
        const props = (s.properties ?? {}) as Record<string, Json>;
        const required = new Set((s.required ?? []) as string[]);
        const out: Json = {};
        for (const [name, field] of Object.entries(props)) {
          // The top two levels show every field (a request's config with its defaults); deeper, the required ones.
          if (required.has(name) || depth <= 1) out[name] = this.example(field, depth + 1);
        }
        return out;
      }
      case "array":
        return Array.isArray(s.prefixItems) ? (s.prefixItems as Json[]).map((p) => this.example(p, depth + 1)) : [this.example(s.items as Json, depth + 1)];
      case "integer":
      case "number":
        return typeof s.minimum === "number" ? s.minimum : 1;
      case "boolean":
        return true;
      case "string":
        if (typeof s.pattern === "string" && s.pattern.includes("sha256")) return `sha256:${"0123456789abcdef".repeat(4)}`;
        return s.format === "date-time" ? "2026-01-01T00:00:00Z" : "string";
      default:
        return null;
    }
  }
}

function readGuide(): string {
  try {
    return readFileSync(new URL("../../docs/reading-an-audit.md", import.meta.url), "utf8");
  } catch {
    return "# Reading an audit\n\nThe guide is `docs/reading-an-audit.md` in the sslmem repository (not part of this installation).";
  }
}

function curl(method: string, path: string, secured: boolean, body: unknown): string {
  const url = `$SSLMEM_SERVER${path.replace(/\{([^}]+)\}/g, (_m, p: string) => `$${p.toUpperCase()}`)}`;
  const parts = [`curl -s${method === "head" ? "I" : ""}${method !== "get" && method !== "head" ? ` -X ${method.toUpperCase()}` : ""} "${url}"`];
  if (secured) parts.push(`-H "Authorization: Bearer $SSLMEM_TOKEN"`);
  if (body !== undefined) parts.push(`-H 'Content-Type: application/json'`, `-d '${JSON.stringify(body)}'`);
  return parts.join(" \\\n  ");
}

export function renderDocsPage(document: OpenApiDocument): string {
  const doc = document as unknown as Json;
  const info = (doc.info ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Json>;
  const schemas = (((doc.components ?? {}) as Json).schemas ?? {}) as Record<string, Json>;
  const r = new SchemaRenderer(schemas);

  const contentHtml = (content: Json | undefined, withExample: boolean): string =>
    Object.entries(content ?? {})
      .map(([type, media]) => {
        const schema = ((media as Json).schema ?? {}) as Json;
        const example = withExample && type.includes("json") ? `<details><summary>example</summary><pre>${esc(JSON.stringify(r.example(schema), null, 2))}</pre></details>` : "";
        return `<div class="media"><code>${esc(type)}</code>${r.table(schema)}${example}</div>`;
      })
      .join("");

  const parametersHtml = (params: Json[] | undefined): string => {
    if (!params?.length) return "";
    const rows = params
      .map((p) => {
        const schema = (p.schema ?? {}) as Json;
        return `<tr><td><code>${esc(p.name)}</code>${p.required ? " *" : ""}</td><td>${esc(p.in)}</td><td>${r.type(schema)}</td><td>${renderInline(String(p.description ?? schema.description ?? ""))}</td></tr>`;
      })
      .join("");
    return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>${rows}</table>`;
  };

  const operationHtml = (path: string, method: string, op: Json): string => {
    const id = anchor(`${method}-${path}`);
    const secured = Array.isArray(op.security) && op.security.length > 0;
    const body = op.requestBody as Json | undefined;
    const jsonBody = ((body?.content as Json | undefined)?.["application/json"] as Json | undefined)?.schema as Json | undefined;
    const responses = Object.entries((op.responses ?? {}) as Record<string, Json>)
      .map(([status, res]) => {
        const content = res.content as Json | undefined;
        const problem = status.startsWith("4") || status.startsWith("5");
        return `<li><b>${esc(status)}</b> ${renderInline(String(res.description ?? ""))}${problem ? "" : contentHtml(content, true)}</li>`;
      })
      .join("");
    return `<section class="op" id="${id}">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p><b>${esc(op.summary)}</b>${secured ? ' <span class="lock">bearer token</span>' : ""}</p>
${op.description ? renderMarkdown(String(op.description)) : ""}
${parametersHtml(op.parameters as Json[] | undefined)}
${body ? `<h4>Request body${body.required ? " *" : ""}</h4>${contentHtml(body.content as Json | undefined, true)}` : ""}
<h4>Responses</h4><ul>${responses}</ul>
<details><summary>curl</summary><pre>${esc(curl(method, path, secured, jsonBody ? r.example(jsonBody) : undefined))}</pre></details>
</section>`;
  };

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
  const schemaSections = Object.entries(schemas)
    .map(
      ([name, s]) =>
        `<section id="schema-${anchor(name)}"><h3>${esc(name)}</h3>${s.description ? renderMarkdown(String(s.description)) : ""}${r.table(s)}` +
        `<details><summary>JSON Schema</summary><pre>${esc(JSON.stringify(s, null, 2))}</pre></details></section>`,
    )
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d2330}
nav{width:18rem;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f5f8;padding:1rem;box-sizing:border-box;font-size:13px}
nav ul{padding-left:1rem}main{padding:1rem 2rem;max-width:64rem;overflow:hidden}
.op{border-top:1px solid #dde;padding:.5rem 0}.m{display:inline-block;min-width:4.5em;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 4px}
.get{background:#2f7d4f}.post{background:#2a5db0}.put{background:#a86b00}.delete{background:#b3261e}.head{background:#5b5b7a}
.lock{font-size:12px;background:#eee;border-radius:4px;padding:1px 5px}pre{background:#f6f7f9;padding:.5rem;overflow:auto;font-size:12px}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #dde;padding:2px 6px;text-align:left;vertical-align:top;font-size:13px}
.media{margin:.3rem 0}
</style></head><body>
<nav><b>${esc(info.title)}</b> ${esc(info.version)}<ul><li><a href="#reading-an-audit">Reading an audit</a></li>${toc}<li><a href="#schemas">schemas</a></li></ul><p><a href="/openapi.json">openapi.json</a></p></nav>
<main><h1>${esc(info.title)}</h1>${renderMarkdown(String(info.description ?? ""))}
${groups.map((g) => `<h2>${esc(g.name)}</h2>${g.ops.map((o) => operationHtml(o.path, o.method, o.op)).join("\n")}`).join("\n")}
<h2 id="schemas">Schemas</h2>${schemaSections}
<section class="guide">${renderMarkdown(readGuide(), 1)}</section>
</main></body></html>`;
}
