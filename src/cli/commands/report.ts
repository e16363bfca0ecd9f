// edgefit report RESULT.json -o FILE.html: a search (or any transform) JSON as a self-contained
// offline HTML page with charts.
import { type ReportJson, report, reportOptions } from '../../node.js';
import { spec } from '../define.js';

function renderReportResult(r: ReportJson): string {
  const kb = (r.bytes / 1024).toFixed(1);
  return `wrote ${r.output} (${r.source} report, ${r.charts} charts, ${kb} KiB; open it in a browser, it needs no network)\n`;
}

export const reportCommand = spec(
  'report',
  reportOptions.description ?? 'report',
  [['<result>', 'a result JSON (edgefit search ... --json, or any transform with --json)']],
  reportOptions,
  ([result], o) => report(result!, o),
  renderReportResult,
);
