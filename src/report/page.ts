// The HTML report's shell and shared pieces: one self-contained page (inline CSS, inline SVG, one
// small inline script that sorts tables), a Content-Security-Policy that forbids every network
// request, and helpers for cards, tables and sections. Pure functions returning HTML strings.

import { esc } from './format.js';

/** A cell: text, or text plus a sort value and a class ('n' right-aligns numbers). */
export type Cell =
  | string
  | number
  | { html?: string; text?: string; sort?: number; cls?: string; title?: string };

function cell(tag: 'td' | 'th', c: Cell): string {
  if (typeof c === 'number') return `<${tag} class="n" data-v="${c}">${esc(c)}</${tag}>`;
  if (typeof c === 'string') return `<${tag}>${esc(c)}</${tag}>`;
  const attrs = [
    c.cls ? ` class="${esc(c.cls)}"` : '',
    c.sort !== undefined && Number.isFinite(c.sort) ? ` data-v="${c.sort}"` : '',
    c.title ? ` title="${esc(c.title)}"` : '',
  ].join('');
  return `<${tag}${attrs}>${c.html ?? esc(c.text ?? '')}</${tag}>`;
}

/** A number cell: the shown text and the value it sorts by. */
export const num = (text: string, sort: number, title?: string): Cell => ({
  text,
  sort,
  cls: 'n',
  ...(title ? { title } : {}),
});

/** A table; `sortable` lets a click on a header sort by that column. */
export function table(
  header: Cell[],
  rows: { cells: Cell[]; cls?: string }[],
  options: { sortable?: boolean; cls?: string } = {},
): string {
  const cls = [options.sortable ? 'sortable' : '', options.cls ?? ''].filter(Boolean).join(' ');
  const head = header.map((h) => cell('th', h)).join('');
  const body = rows
    .map(
      (r) => `<tr${r.cls ? ` class="${esc(r.cls)}"` : ''}>${r.cells.map((c) => cell('td', c)).join('')}</tr>`,
    )
    .join('\n');
  return `<div class="table-wrap"><table${cls ? ` class="${cls}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

export interface CardSpec {
  key: string;
  value: string;
  /** a line under the value */
  detail?: string;
  /** raw HTML after the value (a badge) */
  badge?: string;
  /** two columns wide, smaller text (a long label) */
  wide?: boolean;
}

export function cards(list: CardSpec[]): string {
  const one = (c: CardSpec) =>
    `<div class="card${c.wide ? ' wide' : ''}"><div class="k">${esc(c.key)}</div><div class="v">${esc(c.value)}${c.badge ? ` ${c.badge}` : ''}</div>${c.detail ? `<div class="d">${esc(c.detail)}</div>` : ''}</div>`;
  return `<section class="cards">${list.map(one).join('')}</section>`;
}

export function badge(ok: boolean, yes: string, no: string): string {
  return `<span class="badge ${ok ? 'ok' : 'bad'}">${esc(ok ? yes : no)}</span>`;
}

export function section(id: string, heading: string, body: string, intro?: string): string {
  return `<section id="${esc(id)}"><h2>${esc(heading)}</h2>${intro ? `<p class="intro">${esc(intro)}</p>` : ''}${body}</section>`;
}

/** A chart (or table) in a frame with a heading and a caption. */
export function figure(heading: string, body: string, caption?: string): string {
  return `<figure><h3>${esc(heading)}</h3>${body}${caption ? `<figcaption>${esc(caption)}</figcaption>` : ''}</figure>`;
}

export function warningsBlock(warnings: string[]): string {
  if (!warnings.length) return '';
  return `<section id="warnings" class="warnings" role="note"><h2>Warnings (${warnings.length})</h2><ul>${warnings
    .map((w) => `<li>${esc(w)}</li>`)
    .join('')}</ul></section>`;
}

export function pre(text: string, cls = 'code'): string {
  return `<pre class="${cls}">${esc(text)}</pre>`;
}

const CSS = `
:root{--fg:#1d2330;--muted:#5b6474;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff;--accent:#2563eb;--chosen:#e8590c;--bad:#c92a2a;--good:#2b8a3e}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:13px;margin:0 0 6px;word-break:break-all}
.sub,.intro,figcaption,footer{color:var(--muted)}
.intro{margin:-2px 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:12px;margin:18px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .k{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.card .v{font-size:19px;font-weight:600;margin-top:2px;overflow-wrap:anywhere}
.card .d{color:var(--muted);font-size:12px}
.card.wide{grid-column:span 2}.card.wide .v{font-size:15px;line-height:1.35}
@media (max-width:600px){.card.wide{grid-column:auto}}
.badge{display:inline-block;vertical-align:middle;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:600}
.badge.ok{background:#e6f4ea;color:var(--good)}.badge.bad{background:#fdecea;color:var(--bad)}
.warnings{background:#fff7e0;border:1px solid #f0d48a;border-radius:8px;padding:4px 16px;color:#7a4f00;margin-top:18px}
.warnings h2{border:0;margin:6px 0 0;font-size:14px}.warnings ul{margin:6px 0 8px;padding-left:20px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px}
.charts.small{grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
figcaption{font-size:12px;margin-top:6px}
svg.chart{max-width:100%;height:auto;display:block;overflow:visible}svg.chart.scatter{width:100%;max-width:780px}
section>h3{margin:20px 0 8px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:var(--card)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
tbody tr:last-child td{border-bottom:0}
th{background:#fafbfc;font-weight:600;font-size:12px;color:var(--muted)}
.n{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;min-width:220px}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{color:var(--fg)}
th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
tr.chosen td{background:#fff1e8;font-weight:600}tr.front td:first-child{box-shadow:inset 3px 0 var(--accent)}
tr.infeasible td{color:#8a93a3}
table.heat td.c{text-align:right;font-variant-numeric:tabular-nums;min-width:62px}
table.heat td.c small{display:block;color:#4a5261;font-size:10px}
pre.code{max-height:520px;background:#0f172a;color:#e2e8f0;border-radius:8px;padding:12px 14px;overflow:auto;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:0}
.two{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;align-items:start}
a{color:var(--accent)}
ul.names{columns:2;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:6px 0;padding-left:18px}
footer{margin-top:36px;font-size:12px}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--muted)}
svg .axis,svg .tick{stroke:#9aa3b2}svg .gridline{stroke:#eef0f4}
svg .axis-label{fill:var(--fg);font-weight:600}
svg .pt{stroke:#fff;stroke-width:1}svg .pt:hover{stroke:#000;stroke-width:2}
svg .pt-candidate{fill:#9db4d8}svg .pt-infeasible{fill:#fff;stroke:#aab2c0;stroke-width:1.3}
svg .pt-front{fill:var(--accent)}svg .pt-chosen{fill:var(--chosen)}svg .pt-baseline{fill:var(--fg)}
svg .halo{fill:none;stroke:var(--chosen);stroke-width:2;opacity:.45}
svg .front-line{fill:none;stroke:var(--accent);stroke-width:1.8}
svg .hline{stroke:var(--bad);stroke-dasharray:5 4;stroke-width:1.3}
svg .callout-chosen{fill:var(--chosen);font-weight:600}svg .callout-baseline{fill:var(--fg)}
svg .bar.s0{fill:#8aa8dc}svg .bar.s1{fill:var(--chosen)}svg .bar-value{font-size:10px}
svg .bar:hover{opacity:.8}svg .zero{stroke:#5b6474}
svg .bin.s0{fill:#b4c6e6}svg .step.s1{fill:none;stroke:var(--chosen);stroke-width:1.6}
svg .hit{fill:transparent}svg .hit:hover{fill:rgba(0,0,0,.07)}
svg .legend-label{fill:var(--fg)}svg .empty{font-size:13px}
`;

/** Click a header of a `table.sortable` to sort by it (numbers by data-v, else text); again to reverse. */
const SORT_SCRIPT = `
document.querySelectorAll('table.sortable').forEach(function (t) {
  var heads = t.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, i) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('data-dir') !== 'asc';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', asc ? 'asc' : 'desc');
      var body = t.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[i], y = b.cells[i];
        var vx = x.getAttribute('data-v'), vy = y.getAttribute('data-v');
        var d = vx !== null && vy !== null ? Number(vx) - Number(vy) : x.textContent.localeCompare(y.textContent);
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
`;

/** The whole page: nothing is fetched (CSP default-src 'none'; the icon is a data: URL). */
export function page(titleText: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(titleText)}</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<main>
${body}
<footer>Made by edgefit report from a schemaVersion 1 result. Self-contained: no scripts, fonts or data are fetched; hover a point or bar for its figures, click a table header to sort.</footer>
</main>
<script>${SORT_SCRIPT}</script>
</body>
</html>
`;
}
