// The HTML page of any transform's JSON (slim, quantize, prune, cluster, decompose, optimize,
// finetune): sizes before/after as a table and bars, op types, passes, and the command's extras —
// quantize's kernels, integer/float nodes and mixed precision (with per-layer sensitivity bars), a
// training curve — and every other extra field as JSON, so nothing in the result is hidden.

import {
  byteUnit,
  esc,
  fmtBytes,
  fmtCount,
  fmtMs,
  fmtPct,
  fmtPt,
  fmtShrink,
  fmtSig,
  type JsonNumber,
} from './format.js';
import { badge, type Cell, cards, figure, num, page, pre, section, table, warningsBlock } from './page.js';
import type { PassRecord, SideCounts, TransformReport } from './schema.js';
import { bars, scatter } from './svg.js';

const KNOWN = new Set([
  'schemaVersion',
  'command',
  'input',
  'output',
  'before',
  'after',
  'passes',
  'warnings',
  'mode',
  'kernels',
  'integerNodes',
  'floatNodes',
  'qdqKernels',
  'speedup',
  'mixedPrecision',
  'curve',
]);

interface Mixed {
  metric?: string;
  float?: number;
  fullInt8?: number;
  result?: number;
  dropPt?: number;
  maxDropPt?: number;
  met?: boolean;
  floatLayers?: { name: string; op: string; dropPt: number }[];
  sensitivity?: { name: string; op: string; dropPt: number; sqnr?: JsonNumber }[];
}

function change(b: number, a: number): string {
  if (!(b > 0) || !Number.isFinite(a)) return '–';
  const pct = (100 * (a - b)) / b;
  return Math.abs(pct) < 0.05 ? '0%' : `${a < b ? '−' : '+'}${Math.abs(pct).toFixed(1)}%`;
}

function sizesSection(r: TransformReport): string {
  const { before: b, after: a } = r;
  const row = (what: string, fb: string, fa: string, vb: number, va: number) => ({
    cells: [what, num(fb, vb), num(fa, va), num(change(vb, va), vb > 0 ? va / vb : Number.NaN)],
  });
  const rows = [
    row('file bytes', fmtBytes(b.bytes), fmtBytes(a.bytes), b.bytes, a.bytes),
    row('brotli bytes', fmtBytes(b.brotliBytes), fmtBytes(a.brotliBytes), b.brotliBytes, a.brotliBytes),
    row('weight bytes', fmtBytes(b.weightBytes), fmtBytes(a.weightBytes), b.weightBytes, a.weightBytes),
    row('params', fmtCount(b.params), fmtCount(a.params), b.params, a.params),
    row('nodes', String(b.nodes), String(a.nodes), b.nodes, a.nodes),
  ];
  if (b.latencyMs && a.latencyMs)
    rows.push(
      row(
        'latency (median)',
        fmtMs(b.latencyMs.median),
        fmtMs(a.latencyMs.median),
        b.latencyMs.median,
        a.latencyMs.median,
      ),
    );
  const chart = bars({
    rows: [
      { label: 'file', values: [b.bytes, a.bytes] },
      { label: 'brotli', values: [b.brotliBytes, a.brotliBytes] },
      { label: 'weights', values: [b.weightBytes, a.weightBytes] },
    ],
    series: ['before', 'after'],
    ariaLabel: 'bytes before and after',
    format: fmtBytes,
    tickUnit: byteUnit(Math.max(b.bytes, a.bytes)),
  });
  return section(
    'sizes',
    'Before and after',
    `<div class="two">${figure('figures', table(['', ...['before', 'after', 'change'].map((t) => ({ text: t, cls: 'n' }))], rows))}${figure('bytes', chart)}</div>`,
  );
}

function opsSection(b: SideCounts, a: SideCounts): string {
  const ops = [...new Set([...Object.keys(b.opTypes), ...Object.keys(a.opTypes)])].sort(
    (x, y) => (b.opTypes[y] ?? 0) - (b.opTypes[x] ?? 0) || x.localeCompare(y),
  );
  const rows = ops.map((op) => {
    const [nb, na] = [b.opTypes[op] ?? 0, a.opTypes[op] ?? 0];
    return { cells: [op, nb, na, num(na === nb ? '' : `${na > nb ? '+' : ''}${na - nb}`, na - nb)] };
  });
  return section(
    'ops',
    'Op types',
    table(['op', ...['before', 'after', 'change'].map((t) => ({ text: t, cls: 'n' }))], rows, {
      sortable: true,
    }),
  );
}

function passStats(p: PassRecord): string {
  const s = Object.entries(p.stats ?? {})
    .filter(([, v]) => v)
    .map(([k, v]) => `${k} ${fmtSig(v, 4)}`)
    .join(', ');
  return p.rolledBack ? `rolled back${s ? ` (${s})` : ''}` : s;
}

function passesSection(passes: PassRecord[]): string {
  if (!passes.length) return '';
  const withFidelity = passes.some((p) => p.fidelity);
  const header: Cell[] = [
    'pass',
    'changed',
    'stats',
    { text: 'ms', cls: 'n' },
    ...(withFidelity ? ['SQNR', 'agreement', 'max rel. error'].map((t) => ({ text: t, cls: 'n' })) : []),
  ];
  const rows = passes.map((p) => {
    const f = p.fidelity;
    const cells: Cell[] = [
      p.name,
      p.rolledBack ? 'rolled back' : p.changed ? 'yes' : 'no',
      { text: passStats(p), cls: 'wrap' },
      num(fmtSig(p.ms ?? Number.NaN), p.ms ?? Number.NaN),
      ...(withFidelity
        ? [
            num(f ? `${fmtSig(f.sqnr, 4)} dB` : '', Number(f?.sqnr ?? Number.NaN)),
            num(f ? fmtPct(f.agreement) : '', f?.agreement ?? Number.NaN),
            num(f ? fmtSig(f.maxRelError) : '', f?.maxRelError ?? Number.NaN),
          ]
        : []),
    ];
    return { cells, cls: p.changed ? '' : 'infeasible' };
  });
  const changed = passes.filter((p) => p.changed).length;
  return section(
    'passes',
    `Passes (${changed} of ${passes.length} changed the model)`,
    table(header, rows, { sortable: true }),
  );
}

function names(list: unknown): string {
  const xs = Array.isArray(list) ? list.map(String) : [];
  return xs.length
    ? `<ul class="names">${xs.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`
    : '<p class="intro">none</p>';
}

function quantizeSection(r: TransformReport): string {
  const kernels = r.kernels as Record<string, number> | undefined;
  const mixed = r.mixedPrecision as Mixed | undefined;
  if (!kernels && !mixed && r.integerNodes === undefined) return '';
  const parts: string[] = [];
  const facts: { key: string; value: string; detail?: string }[] = [];
  if (typeof r.mode === 'string') facts.push({ key: 'mode', value: r.mode });
  if (typeof r.speedup === 'number')
    facts.push({
      key: 'speed-up',
      value: `${fmtSig(r.speedup)}×`,
      detail: 'batch 1, 1 thread, as ORT ran it',
    });
  if (Array.isArray(r.integerNodes))
    facts.push({
      key: 'integer nodes',
      value: String(r.integerNodes.length),
      detail: `float compute nodes ${Array.isArray(r.floatNodes) ? r.floatNodes.length : '–'}`,
    });
  if (typeof r.qdqKernels === 'number') facts.push({ key: 'Q/DQ kernels left', value: String(r.qdqKernels) });
  if (facts.length) parts.push(cards(facts));
  const figs: string[] = [];
  if (kernels) {
    const rows = Object.entries(kernels)
      .sort((x, y) => y[1] - x[1])
      .map(([k, n]) => ({ label: k, values: [n] }));
    figs.push(
      figure(
        'kernels ONNX Runtime ran',
        bars({ rows, series: ['count'], ariaLabel: 'kernel counts', format: (v) => String(v) }),
      ),
    );
  }
  figs.push(figure('nodes on integer kernels', names(r.integerNodes)));
  if (Array.isArray(r.floatNodes) && r.floatNodes.length)
    figs.push(figure('float compute nodes', names(r.floatNodes)));
  parts.push(`<div class="two">${figs.join('')}</div>`);
  if (mixed) parts.push(mixedBlock(mixed));
  return section('quantization', 'Quantization', parts.join(''));
}

function mixedBlock(m: Mixed): string {
  const metric = m.metric === 'agreement' ? 'agreement' : 'top-1';
  const facts = cards([
    { key: `float ${metric}`, value: fmtPct(m.float) },
    { key: `full int8 ${metric}`, value: fmtPct(m.fullInt8) },
    {
      key: `result ${metric}`,
      value: fmtPct(m.result),
      badge: badge(m.met === true, 'within budget', 'over budget'),
      detail: `drop ${fmtPt(m.dropPt)} of --max-drop ${fmtSig(m.maxDropPt ?? Number.NaN)} pt`,
    },
    { key: 'layers kept float', value: String(m.floatLayers?.length ?? 0) },
  ]);
  const sens = m.sensitivity ?? [];
  const chart = sens.length
    ? figure(
        'per-layer sensitivity: drop when only this layer is int8',
        bars({
          rows: sens.map((s) => ({
            label: s.name,
            values: [s.dropPt],
            detail: `${s.op}, SQNR ${fmtSig(s.sqnr, 4)} dB${m.floatLayers?.some((f) => f.name === s.name) ? ', kept float' : ''}`,
          })),
          series: ['drop'],
          ariaLabel: `sensitivity of ${sens.length} layers`,
          format: (v) => fmtPt(v),
          xLabel: `drop in ${metric}, points`,
        }),
        m.floatLayers?.length ? `kept float: ${m.floatLayers.map((f) => f.name).join(', ')}` : undefined,
      )
    : '';
  return `<h3>Mixed precision (--max-drop)</h3>${facts}${chart}`;
}

function curveSection(r: TransformReport): string {
  const curve = Array.isArray(r.curve)
    ? (r.curve as { step: number; loss: number; accuracy?: number }[])
    : [];
  const pts = curve.filter((p) => Number.isFinite(p?.step) && Number.isFinite(p?.loss));
  if (!pts.length) return '';
  const lossPlot = scatter({
    points: pts.map((p) => ({
      x: p.step,
      y: p.loss,
      label: `step ${p.step}`,
      detail: [
        `loss ${fmtSig(p.loss, 4)}`,
        ...(p.accuracy !== undefined ? [`accuracy ${fmtPct(p.accuracy)}`] : []),
      ],
      onLine: true,
    })),
    xLabel: 'step',
    yLabel: 'loss',
    ariaLabel: `training loss over ${pts.length} steps`,
    yFormat: (v) => fmtSig(v, 3),
  });
  return section('curve', 'Training curve', `<div class="charts">${figure('loss', lossPlot)}</div>`);
}

function extrasSection(r: TransformReport): string {
  const extra = Object.fromEntries(Object.entries(r).filter(([k]) => !KNOWN.has(k)));
  if (!Object.keys(extra).length) return '';
  return section('extras', 'Other fields', pre(JSON.stringify(extra, null, 2)));
}

/** The whole page of a transform report. */
export function transformPage(r: TransformReport): string {
  const { before: b, after: a } = r;
  const summary: { key: string; value: string; detail?: string }[] = [
    {
      key: 'file size',
      value: fmtShrink(b.bytes, a.bytes),
      detail: `${fmtBytes(b.bytes)} → ${fmtBytes(a.bytes)}`,
    },
    {
      key: 'brotli size',
      value: fmtShrink(b.brotliBytes, a.brotliBytes),
      detail: `${fmtBytes(b.brotliBytes)} → ${fmtBytes(a.brotliBytes)}`,
    },
    { key: 'params', value: fmtCount(a.params), detail: `before ${fmtCount(b.params)}` },
    { key: 'nodes', value: String(a.nodes), detail: `before ${b.nodes}` },
  ];
  if (b.latencyMs && a.latencyMs)
    summary.push({
      key: 'latency',
      value: fmtMs(a.latencyMs.median),
      detail: `before ${fmtMs(b.latencyMs.median)} (median of ${a.latencyMs.runs})`,
    });
  const body = [
    `<header><h1>edgefit ${esc(r.command)} · ${esc(r.input)}</h1><p class="sub">${esc(`${r.input} → ${r.output}`)}</p></header>`,
    cards(summary),
    warningsBlock(r.warnings),
    sizesSection(r),
    quantizeSection(r),
    curveSection(r),
    passesSection(r.passes),
    opsSection(b, a),
    extrasSection(r),
  ].join('\n');
  return page(`edgefit ${r.command} · ${r.input}`, body);
}
