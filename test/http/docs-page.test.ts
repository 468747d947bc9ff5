/**
 * /docs renders the API for people: field tables with descriptions (every AuditConfig field has
 * one), references as links rather than raw `$ref`s, Markdown rendered, an example and a curl
 * command per operation, and the "Reading an audit" guide.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderMarkdown } from "../../src/http/docs-markdown.ts";
import { renderDocsPage } from "../../src/http/docs-page.ts";
import type { OpenApiDocument } from "../../src/http/openapi.ts";

const document = JSON.parse(readFileSync(new URL("../../openapi/openapi.json", import.meta.url), "utf8")) as OpenApiDocument & {
  components: { schemas: Record<string, { properties?: Record<string, { description?: string; $ref?: string }> }> };
};

describe("/docs page", () => {
  const page = renderDocsPage(document);
  const outsideDetails = page.replace(/<details><summary>JSON Schema<\/summary>[\s\S]*?<\/details>/g, "");

  it("describes every AuditConfig field, in its zod schema and in the page", () => {
    const config = document.components.schemas.AuditConfig;
    assert.ok(config?.properties, "AuditConfig is a component schema");
    for (const [name, field] of Object.entries(config.properties)) {
      assert.ok(field.description && field.description.length > 10, `AuditConfig.${name} has a description`);
      assert.ok(page.includes(`<code>${name}</code>`), `AuditConfig.${name} is a row of the page`);
    }
    assert.match(page, /<code>preprocessing\.normalize<\/code><\/td><td><code>&quot;imagenet&quot;<\/code> \| <code>&quot;clip&quot;<\/code>/);
  });

  it("shows references as links and schemas as field tables, not raw JSON Schema", () => {
    assert.doesNotMatch(outsideDetails, /&quot;\$ref&quot;/, "no raw $ref outside the collapsed JSON Schema");
    assert.match(page, /<a href="#schema-AuditConfig">AuditConfig<\/a>/);
    assert.match(page, /<table class="fields"><tr><th>field<\/th><th>type<\/th><th>default<\/th><th>description<\/th><\/tr>/);
  });

  it("has an example request and a curl command for submitting an audit, and renders Markdown", () => {
    const op = page.slice(page.indexOf('id="post--v1-audits"'), page.indexOf("</section>", page.indexOf('id="post--v1-audits"')));
    assert.match(op, /<summary>example<\/summary><pre>\{\n(  &quot;kind&quot;: &quot;sslmem&quot;,\n)?  &quot;target&quot;: &quot;sha256:[0-9a-f]{64}&quot;,/);
    assert.match(op, /&quot;config&quot;: \{\n    &quot;views&quot;: 16,/, "the example config shows the defaults");
    assert.match(op, /curl -s -X POST &quot;\$SSLMEM_SERVER\/v1\/audits&quot; \\\n  -H &quot;Authorization: Bearer \$SSLMEM_TOKEN&quot; \\\n  -H &#39;Content-Type: application\/json&#39; \\\n  -d &#39;\{(&quot;kind&quot;:&quot;sslmem&quot;,)?&quot;target&quot;/);
    assert.match(page, /<code>sslmem inspect<\/code>/, "Markdown in descriptions becomes HTML");
    assert.doesNotMatch(outsideDetails, /`[a-z]+`/, "no unrendered backticks");
  });

  it("includes the Reading an audit guide", () => {
    assert.match(page, /<h2 id="reading-an-audit">Reading an audit<\/h2>/);
    assert.match(page, /<h4 id="the-reference-encoder">The reference encoder<\/h4>/);
    assert.match(page, /<a href="#reading-an-audit">Reading an audit<\/a>/);
  });

  it("the Markdown renderer escapes HTML and drops unsafe links", () => {
    const html = renderMarkdown("a <script>x</script> [y](javascript:void) [z](https://example.org)");
    assert.equal(html, '<p>a &lt;script&gt;x&lt;/script&gt; y <a href="https://example.org">z</a></p>');
    assert.equal(renderMarkdown("- `a`\n- **b**"), "<ul><li><code>a</code></li><li><strong>b</strong></li></ul>");
  });
});
