// edgefit/node's report(): a result JSON file in, a self-contained HTML page written atomically
// (never over the input, never over an existing file without --force). writeReportHtml is the same
// for a report object already in memory (search --report FILE.html).

import { existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ReportJson, type ReportOptions, renderReportText, reportOptions } from '../commands/report.js';
import { parseOptions } from '../commands/schema.js';
import { EdgefitError } from '../errors.js';
import { countCharts, renderReport } from '../report/html.js';
import type { SearchReport, TransformReport } from '../report/schema.js';

export { type ReportJson, type ReportOptions, reportOptions };

function samePath(a: string, b: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return real(a) === real(b);
}

/** Write `html` to `output` atomically (a temp file beside it, then rename); returns its bytes. */
function writePage(html: string, output: string, force: boolean, input?: string): number {
  if (input !== undefined && samePath(input, output))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `the output path ${output} is the input file`,
      'choose another -o',
    );
  const dir = dirname(resolve(output));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new EdgefitError(
      'IO',
      `cannot write ${output}: the folder ${dir} does not exist`,
      'create it first or choose another -o',
    );
  if (existsSync(output) && !force)
    throw new EdgefitError('IO', `${output} already exists`, 'choose another -o or pass --force');
  const bytes = Buffer.from(html, 'utf8');
  const tmp = `${resolve(output)}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, output);
  } catch (e) {
    rmSync(tmp, { force: true });
    const code = (e as { code?: string }).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'ENOSPC' || code === 'EISDIR')
      throw new EdgefitError(
        'IO',
        `cannot write ${output} (${code})`,
        'check the folder is writable and has space',
      );
    throw e;
  }
  return bytes.length;
}

/** `edgefit report RESULT.json -o FILE.html`: render a search or transform result as an offline page. */
export async function report(result: string, options: ReportOptions): Promise<ReportJson> {
  const o = parseOptions(reportOptions, options, 'report');
  let text: string;
  try {
    text = readFileSync(result, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'unreadable';
    throw new EdgefitError('IO', `cannot read ${result} (${code})`, 'check the path of the result JSON');
  }
  const { html, summary } = renderReportText(text, result);
  const bytes = writePage(html, o.output, o.force, result);
  return { ...summary, input: result, output: o.output, bytes };
}

/** Write the page of a report object (search --report FILE.html); checked like a file's JSON. */
export function writeReportHtml(
  r: SearchReport | TransformReport,
  output: string,
  options: { force?: boolean } = {},
): { output: string; bytes: number; charts: number } {
  const html = renderReport(r, 'the report');
  return { output, bytes: writePage(html, output, options.force ?? false), charts: countCharts(html) };
}
