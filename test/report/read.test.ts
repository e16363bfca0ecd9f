// Reading a result JSON for the report: the two kinds of report are told apart, and every wrong file
// (not JSON, no or an unknown schemaVersion, another command's result, a missing field) is one
// EdgefitError line that names the file and the field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgefitError } from '../../src/errors.js';
import { readReport } from '../../src/report/read.js';

const FIX = join(import.meta.dirname, 'fixtures');
const searchText = readFileSync(join(FIX, 'search.json'), 'utf8');
const quantizeText = readFileSync(join(FIX, 'quantize.json'), 'utf8');

function error(text: string): EdgefitError {
  try {
    readReport(text, 'r.json');
  } catch (e) {
    expect(e).toBeInstanceOf(EdgefitError);
    const err = e as EdgefitError;
    expect(err.message).not.toContain('\n');
    expect(err.message.startsWith('r.json')).toBe(true);
    expect(err.fix).toBeTruthy();
    return err;
  }
  throw new Error('no error');
}

/** the message without its fix */
const what = (e: EdgefitError) => e.message.slice(0, e.message.length - ` (${e.fix})`.length);

const edit = (text: string, f: (o: Record<string, unknown>) => void) => {
  const o = JSON.parse(text);
  f(o);
  return JSON.stringify(o);
};

describe('readReport', () => {
  it('tells a search report from a transform report', () => {
    const s = readReport(searchText, 's.json');
    expect(s.kind).toBe('search');
    if (s.kind === 'search') {
      expect(s.report.candidates).toHaveLength(52);
      expect(s.report.histograms).toHaveLength(3);
    }
    const q = readReport(quantizeText, 'q.json');
    expect(q.kind).toBe('transform');
    expect(q.report.command).toBe('quantize');
  });

  it('collections a page can show empty default to []', () => {
    const r = readReport(
      edit(searchText, (o) => {
        delete o.sensitivity;
        delete o.histograms;
        delete o.warnings;
      }),
      'r.json',
    );
    expect(r.kind === 'search' && [r.report.sensitivity, r.report.histograms, r.report.warnings]).toEqual([
      [],
      [],
      [],
    ]);
  });

  it('not JSON, not an object', () => {
    expect(error('{"schemaVersion": 1,').message).toMatch(/^r\.json: not JSON \(/);
    expect(error('[1, 2]').message).toBe(
      'r.json: is array, not an edgefit result object (edgefit report renders the --json of search and of the transforms (slim, quantize, prune, cluster, decompose, optimize))',
    );
  });

  it('a missing or unknown schemaVersion', () => {
    expect(error('{"command": "search"}').message).toContain('has no schemaVersion');
    const newer = error(edit(searchText, (o) => (o.schemaVersion = 2)));
    expect(newer.message).toContain('schemaVersion 2 is not one this edgefit reads (1)');
    expect(newer.fix).toBe('upgrade edgefit to render it');
    expect(error(edit(searchText, (o) => (o.schemaVersion = '1'))).message).toContain('schemaVersion "1"');
  });

  it("another command's result, or a recipe", () => {
    const inspect = JSON.stringify({ schemaVersion: 1, params: 10, layers: [] });
    expect(error(inspect).message).toContain('is a measurement result, not a search or transform result');
    const bench = JSON.stringify({ schemaVersion: 1, command: 'bench', latencyMs: {} });
    expect(error(bench).message).toContain('is an edgefit bench result');
    const recipe = JSON.stringify({ schemaVersion: 1, command: 'prune', recipe: [] });
    expect(error(recipe).fix).toBe('run the command without --print-recipe');
  });

  it('names the missing or mistyped field', () => {
    const noAcc = edit(searchText, (o) => {
      delete (
        (o.candidates as Record<string, Record<string, unknown>>[])[3]!.metrics as Record<string, unknown>
      ).accuracy;
    });
    expect(what(error(noAcc))).toBe('r.json: candidates[3].metrics.accuracy is missing');
    const badFront = edit(searchText, (o) => (o.front = {}));
    expect(what(error(badFront))).toBe('r.json: front is object, expected array');
    const hist = edit(searchText, (o) => {
      (o.histograms as { after: number[] }[])[1]!.after.pop();
    });
    expect(what(error(hist))).toBe(
      'r.json: histograms[1].after has 47 counts for 48 bins (edges.length - 1)',
    );
    const side = edit(quantizeText, (o) => {
      (o.after as Record<string, unknown>).brotliBytes = null;
    });
    expect(what(error(side))).toBe('r.json: after.brotliBytes is null, expected number');
    const pass = edit(quantizeText, (o) => (o.passes = [{ name: 'x' }]));
    expect(what(error(pass))).toBe('r.json: passes[0].changed is missing');
  });

  it('accepts JSON\'s "Infinity" where a number may be infinite', () => {
    const r = edit(quantizeText, (o) => {
      o.passes = [
        {
          name: 'slim',
          changed: true,
          stats: {},
          ms: 1,
          fidelity: { sqnr: 'Infinity', agreement: 1, maxRelError: 0 },
        },
      ];
      (o.before as Record<string, unknown>).bytes = 'Infinity';
    });
    expect(readReport(r, 'r.json').kind).toBe('transform');
  });
});
