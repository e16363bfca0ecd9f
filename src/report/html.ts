// The HTML report: one self-contained offline page (inline CSS and SVG, no request of any kind) for a
// search result or any transform's result. Pure: a report in, an HTML string out — the CLI writes it
// to a file (edgefit report, search --report), the browser app shows it as it is.

import { type AnyReport, checkReport, readReport } from './read.js';
import type { SearchReport, TransformReport } from './schema.js';
import { searchPage } from './search-page.js';
import { transformPage } from './transform-page.js';

export { type AnyReport, checkReport, readReport };

/** The page of a checked report. */
export function reportPage(r: AnyReport): string {
  return r.kind === 'search' ? searchPage(r.report) : transformPage(r.report);
}

/** The page of a report object; a wrong object is one EdgefitError naming the field (`source` names it). */
export function renderReport(
  report: SearchReport | TransformReport | unknown,
  source = 'the report',
): string {
  return reportPage(checkReport(report, source));
}

/** How many charts (SVG elements) a page holds. */
export function countCharts(html: string): number {
  return html.split('<svg ').length - 1;
}
