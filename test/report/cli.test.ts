// edgefit report as a user runs it (the built CLI) and as a library call: the page is written, the
// same bytes either way; a wrong input or output is exit 2 with one line.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgefitError, report, writeReportHtml } from '../../src/node.js';
import { runCli } from '../helpers/cli.js';

const FIX = join(import.meta.dirname, 'fixtures');
const SEARCH = join(FIX, 'search.json');
const dir = mkdtempSync(join(tmpdir(), 'edgefit-report-'));

function oneLineError(args: string[]): string {
  const r = runCli(args);
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^edgefit: error: /);
  expect(r.stdout).toBe('');
  return lines[0]!;
}

describe('edgefit report', () => {
  it('writes the page and --json says what it wrote; the library writes the same bytes', async () => {
    const out = join(dir, 'search.html');
    const r = runCli(['report', SEARCH, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toEqual({
      schemaVersion: 1,
      command: 'report',
      report: 'search',
      source: 'search',
      charts: 5,
      input: SEARCH,
      output: out,
      bytes: readFileSync(out).length,
    });
    expect(readFileSync(out, 'utf8').startsWith('<!doctype html>')).toBe(true);
    const lib = join(dir, 'lib.html');
    const j = await report(SEARCH, { output: lib });
    expect({ ...j, output: out }).toEqual(json);
    expect(readFileSync(lib).equals(readFileSync(out))).toBe(true);
  });

  it('writeReportHtml (search --report) writes the same page from the object, with the same checks', async () => {
    const fromFile = join(dir, 'from-file.html');
    await report(SEARCH, { output: fromFile });
    const out = join(dir, 'from-object.html');
    const w = writeReportHtml(JSON.parse(readFileSync(SEARCH, 'utf8')), out);
    expect(w).toEqual({ output: out, bytes: readFileSync(fromFile).length, charts: 5 });
    expect(readFileSync(out).equals(readFileSync(fromFile))).toBe(true);
    expect(() => writeReportHtml(JSON.parse(readFileSync(SEARCH, 'utf8')), out)).toThrow(/already exists/);
    const broken = { ...JSON.parse(readFileSync(SEARCH, 'utf8')), chosen: undefined };
    expect(() => writeReportHtml(broken, join(dir, 'never2.html'))).toThrow(EdgefitError);
    expect(existsSync(join(dir, 'never2.html'))).toBe(false);
  });

  it('the readable line names the file and the charts', () => {
    const out = join(dir, 'q.html');
    const r = runCli(['report', join(FIX, 'quantize.json'), '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out} \\(quantize report, 3 charts, \\d+\\.\\d KiB;`));
  });

  it('never overwrites without --force, never the input', () => {
    const out = join(dir, 'exists.html');
    writeFileSync(out, 'keep');
    expect(oneLineError(['report', SEARCH, '-o', out])).toBe(
      `edgefit: error: ${out} already exists (choose another -o or pass --force)`,
    );
    expect(readFileSync(out, 'utf8')).toBe('keep');
    expect(runCli(['report', SEARCH, '-o', out, '--force']).code).toBe(0);
    const copy = join(dir, 'copy.json');
    writeFileSync(copy, readFileSync(SEARCH));
    expect(oneLineError(['report', copy, '-o', copy, '--force'])).toContain('is the input file');
    expect(oneLineError(['report', SEARCH, '-o', join(dir, 'no', 'such', 'x.html')])).toContain(
      'does not exist',
    );
  });

  it('a wrong result file is one line and writes nothing', () => {
    const write = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const out = join(dir, 'never.html');
    expect(oneLineError(['report', join(dir, 'missing.json'), '-o', out])).toContain('cannot read');
    expect(oneLineError(['report', write('bad.json', '{"a":'), '-o', out])).toMatch(/bad\.json: not JSON/);
    expect(oneLineError(['report', write('nov.json', '{"command":"search"}'), '-o', out])).toContain(
      'has no schemaVersion',
    );
    expect(oneLineError(['report', write('v9.json', '{"schemaVersion":9}'), '-o', out])).toContain(
      'schemaVersion 9 is not one this edgefit reads (1) (upgrade edgefit to render it)',
    );
    expect(oneLineError(['report', write('model.onnx', '\u0008\u0007\u0012'), '-o', out])).toContain(
      'not JSON',
    );
    expect(existsSync(out)).toBe(false);
    expect(oneLineError(['report', SEARCH])).toContain('-o');
  });
});
