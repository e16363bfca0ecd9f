// edgefit report RESULT.json -o FILE.html: the options, and the core of the command over text (no
// file system): a result JSON's text in, the page and what the command prints out.

import { z } from 'zod';
import { countCharts, readReport, reportPage } from '../report/html.js';
import { SCHEMA_VERSION } from '../report/schema.js';
import { jsonOption } from './options.js';

export const reportOptions = z
  .object({
    output: z.string().min(1).describe('where to write the HTML page (never the input)'),
    force: z.boolean().default(false).describe('overwrite an existing output file'),
    json: jsonOption,
  })
  .describe(
    'render a search (or any transform) result JSON as a self-contained offline HTML page with charts',
  );

export type ReportOptions = z.input<typeof reportOptions>;

/** What `edgefit report --json` prints and the library function resolves to. */
export interface ReportJson {
  schemaVersion: number;
  command: 'report';
  input: string;
  output: string;
  /** which page: a search report or a transform report */
  report: 'search' | 'transform';
  /** the command the result came from (search, quantize, prune, ...) */
  source: string;
  bytes: number;
  charts: number;
}

/** The page of a result JSON's text and the figures the command reports (without the file fields). */
export function renderReportText(
  text: string,
  source: string,
): { html: string; summary: Omit<ReportJson, 'input' | 'output' | 'bytes'> } {
  const parsed = readReport(text, source);
  const html = reportPage(parsed);
  return {
    html,
    summary: {
      schemaVersion: SCHEMA_VERSION,
      command: 'report',
      report: parsed.kind,
      source: parsed.report.command,
      charts: countCharts(html),
    },
  };
}
