/** The HTML report's stylesheet, inlined (the page loads nothing: CSP default-src 'none'). */
export const HTML_REPORT_CSS = `
:root {
  --fg: #1f2328; --muted: #59636e; --border: #d8dee4; --subtle: #f6f8fa; --accent: #3b6fd8;
  --ok-fg: #116329; --ok-bg: #dafbe1; --warn-fg: #7d4e00; --warn-bg: #fff8c5; --warn-border: #e9c46a;
  --bad-fg: #a40e26; --bad-bg: #ffebe9; --bad-border: #f5b5b0;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif;
}
main { max-width: 1080px; margin: 0 auto; padding: 32px 28px 48px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
h1 { font-size: 24px; line-height: 1.25; margin: 0 0 4px; font-weight: 650; }
h2 { font-size: 17px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--border); font-weight: 650; }
h3 { font-size: 14px; margin: 20px 0 8px; font-weight: 650; }
p { margin: 8px 0; }
.muted { color: var(--muted); }
header { display: flex; flex-wrap: wrap; align-items: flex-end; justify-content: space-between; gap: 12px; }
header .meta { color: var(--muted); }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid transparent; white-space: nowrap; }
.badge.ok { color: var(--ok-fg); background: var(--ok-bg); border-color: #aceebb; }
.badge.warn { color: var(--warn-fg); background: var(--warn-bg); border-color: var(--warn-border); }
.badge.bad { color: var(--bad-fg); background: var(--bad-bg); border-color: var(--bad-border); }
.verdict { margin: 20px 0 0; padding: 14px 18px; border-radius: 8px; border: 1px solid; font-size: 15px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.verdict.bad { color: var(--bad-fg); background: var(--bad-bg); border-color: var(--bad-border); }
.verdict.ok { color: var(--ok-fg); background: var(--ok-bg); border-color: #aceebb; }
.verdict.warn { color: var(--warn-fg); background: var(--warn-bg); border-color: var(--warn-border); }
.verdict strong { font-size: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin-top: 20px; }
.card { border: 1px solid var(--border); border-radius: 8px; padding: 12px 16px; background: #fff; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; margin-top: 2px; }
.card .sub { color: var(--muted); font-size: 12px; }
.card.flagged .value { color: var(--bad-fg); }
.callout { border: 1px solid var(--warn-border); background: var(--warn-bg); color: var(--warn-fg); border-radius: 8px; padding: 10px 14px; margin: 12px 0; }
.callout ul { margin: 4px 0 0; padding-left: 20px; }
.callout p { margin: 0; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 6px 20px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.two-col { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 12px 32px; }
figure { margin: 0; }
.chart { border: 1px solid var(--border); border-radius: 8px; padding: 16px 16px 8px; }
.chart svg { display: block; width: 100%; height: auto; max-width: 920px; margin: 0 auto; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; justify-content: center; margin: 0 0 10px; color: var(--muted); font-size: 13px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 14px; height: 10px; border-radius: 2px; }
.swatch.candidates { background: #3b6fd8; }
.swatch.controls { border: 2px solid #e07b20; background: rgba(224, 123, 32, .08); }
.swatch.threshold { width: 16px; height: 0; border-top: 2px dashed #c62828; border-radius: 0; }
.swatch.flagged { width: 2px; height: 12px; background: #c62828; border-radius: 0; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 8px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--border); vertical-align: middle; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--subtle); text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.id { overflow-wrap: anywhere; word-break: break-word; max-width: 460px; }
tbody tr:hover { background: #f9fafb; }
table.compact { width: auto; min-width: 320px; }
.thumb { width: 64px; height: 64px; display: flex; align-items: center; justify-content: center; background: var(--subtle); border: 1px solid var(--border); border-radius: 4px; overflow: hidden; }
.thumb img { max-width: 64px; max-height: 64px; image-rendering: auto; }
.thumb.none { color: var(--muted); font-size: 11px; }
.rate { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; }
footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--border); color: var(--muted); font-size: 12px; }
@media print {
  main { padding: 0; max-width: none; }
  h2 { break-after: avoid; }
  tr, .card, .chart { break-inside: avoid; }
  tbody tr:hover { background: none; }
}
`;
