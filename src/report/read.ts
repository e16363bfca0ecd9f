// Reading a result JSON for the HTML report: which report it is (a search or a transform), checked
// field by field so that a wrong file is one clear line (EdgefitError, exit 2 in the CLI) and never a
// crash inside a renderer. Collections a renderer can show as empty (warnings, sensitivity,
// histograms) default to [] when absent; what the page is built on must be there.

import { EdgefitError } from '../errors.js';
import { SCHEMA_VERSION, type SearchReport, type TransformReport } from './schema.js';

export type AnyReport =
  | { kind: 'search'; report: SearchReport }
  | { kind: 'transform'; report: TransformReport };

const RERUN = 'rerun the command with --json and pass the file it writes';
const RENDERS =
  'edgefit report renders the --json of search and of the transforms (slim, quantize, prune, cluster, decompose, optimize)';

type Obj = Record<string, unknown>;
type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function kindOf(v: unknown): Kind | 'null' | 'undefined' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as Kind | 'undefined';
}

class Checker {
  constructor(readonly source: string) {}

  fail(what: string, fix = RERUN): never {
    throw new EdgefitError('BAD_ARGUMENT', `${this.source}: ${what}`, fix);
  }

  /** `obj[key]` is of `kind` (a number may be JSON's "Infinity"); returns it. */
  need<T>(obj: Obj, key: string, kind: Kind, path: string): T {
    const v = obj[key];
    const ok = kindOf(v) === kind || (kind === 'number' && (v === 'Infinity' || v === '-Infinity'));
    if (!ok)
      this.fail(
        v === undefined ? `${path}${key} is missing` : `${path}${key} is ${kindOf(v)}, expected ${kind}`,
      );
    return v as T;
  }

  /** Every element of `obj[key]` (an array) is an object; `each` checks it. */
  list(obj: Obj, key: string, path: string, each: (o: Obj, at: string) => void, optional = false): void {
    if (optional && obj[key] === undefined) {
      obj[key] = [];
      return;
    }
    const arr = this.need<unknown[]>(obj, key, 'array', path);
    arr.forEach((el, i) => {
      const at = `${path}${key}[${i}].`;
      if (!isObj(el)) this.fail(`${path}${key}[${i}] is ${kindOf(el)}, expected object`);
      each(el, at);
    });
  }

  fields(obj: Obj, path: string, spec: Record<string, Kind>): void {
    for (const [k, kind] of Object.entries(spec)) this.need(obj, k, kind, path);
  }
}

const METRICS: Record<string, Kind> = {
  bytes: 'number',
  brotliBytes: 'number',
  accuracy: 'number',
  dropPt: 'number',
};
const SIDE: Record<string, Kind> = {
  bytes: 'number',
  brotliBytes: 'number',
  params: 'number',
  weightBytes: 'number',
  nodes: 'number',
  opTypes: 'object',
};

function checkCandidate(c: Checker, o: Obj, at: string): void {
  c.fields(o, at, { id: 'string', label: 'string', recipe: 'array', metrics: 'object' });
  c.fields(o.metrics as Obj, `${at}metrics.`, METRICS);
}

function checkSearch(c: Checker, r: Obj): SearchReport {
  c.fields(r, '', { model: 'string', objective: 'string', maxDropPt: 'number', metric: 'string' });
  c.fields(c.need<Obj>(r, 'baseline', 'object', ''), 'baseline.', METRICS);
  checkCandidate(c, c.need<Obj>(r, 'chosen', 'object', ''), 'chosen.');
  c.list(r, 'candidates', '', (o, at) => checkCandidate(c, o, at));
  c.list(r, 'front', '', (o, at) => checkCandidate(c, o, at));
  c.list(
    r,
    'sensitivity',
    '',
    (o, at) => c.fields(o, at, { layer: 'string', technique: 'string', setting: 'string', dropPt: 'number' }),
    true,
  );
  c.list(
    r,
    'histograms',
    '',
    (o, at) => {
      c.fields(o, at, { layer: 'string', edges: 'array', before: 'array', after: 'array' });
      const bins = (o.edges as unknown[]).length - 1;
      for (const k of ['before', 'after'])
        if ((o[k] as unknown[]).length !== bins)
          c.fail(`${at}${k} has ${(o[k] as unknown[]).length} counts for ${bins} bins (edges.length - 1)`);
    },
    true,
  );
  if (r.warnings === undefined) r.warnings = [];
  c.need(r, 'warnings', 'array', '');
  return r as unknown as SearchReport;
}

function checkTransform(c: Checker, r: Obj): TransformReport {
  c.fields(r, '', { command: 'string', input: 'string', output: 'string' });
  c.fields(c.need<Obj>(r, 'before', 'object', ''), 'before.', SIDE);
  c.fields(c.need<Obj>(r, 'after', 'object', ''), 'after.', SIDE);
  c.list(r, 'passes', '', (o, at) => c.fields(o, at, { name: 'string', changed: 'boolean' }));
  if (r.warnings === undefined) r.warnings = [];
  c.need(r, 'warnings', 'array', '');
  return r as unknown as TransformReport;
}

/** The report in a result JSON's text; `source` names the file in errors. */
export function readReport(text: string, source: string): AnyReport {
  const c: Checker = new Checker(source);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    c.fail(`not JSON (${(e as Error).message})`, RENDERS);
  }
  return checkReport(data, source);
}

/** The same checks over an already parsed value (a library caller's object). A shallow copy is checked. */
export function checkReport(data: unknown, source: string): AnyReport {
  const c: Checker = new Checker(source);
  if (!isObj(data)) c.fail(`is ${kindOf(data)}, not an edgefit result object`, RENDERS);
  const r: Obj = { ...data };
  const v = r.schemaVersion;
  if (v === undefined) c.fail('has no schemaVersion, so it is not an edgefit --json result', RENDERS);
  if (v !== SCHEMA_VERSION)
    c.fail(
      `schemaVersion ${JSON.stringify(v)} is not one this edgefit reads (${SCHEMA_VERSION})`,
      typeof v === 'number' && v > SCHEMA_VERSION
        ? 'upgrade edgefit to render it'
        : 'rerun the command with this edgefit and --json',
    );
  if (r.command === 'search') return { kind: 'search', report: checkSearch(c, r) };
  if ('recipe' in r && !('before' in r))
    c.fail('is a --print-recipe result (a plan, nothing measured)', 'run the command without --print-recipe');
  if ('before' in r || 'passes' in r) return { kind: 'transform', report: checkTransform(c, r) };
  const what = typeof r.command === 'string' ? `an edgefit ${r.command} result` : 'a measurement result';
  c.fail(`is ${what}, not a search or transform result`, RENDERS);
}
