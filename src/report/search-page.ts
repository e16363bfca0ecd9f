// The HTML page of a search result (edgefit search --json): what was chosen and what it costs, the
// Pareto plots (brotli size, latency, and the objective's own figure against accuracy), the chosen
// recipe, per-layer sensitivity per technique, weight histograms before/after, every candidate.

import { stringify } from 'yaml';
import {
  esc,
  fmtBytes,
  fmtCount,
  fmtMs,
  fmtPct,
  fmtPt,
  fmtRatio,
  fmtSig,
  type JsonNumber,
} from './format.js';
import { badge, type Cell, cards, figure, num, page, pre, section, table, warningsBlock } from './page.js';
import type { Candidate, CandidateMetrics, SearchReport, SensitivityRow, WeightHistogram } from './schema.js';
import { histogram, type PointKind, type ScatterPoint, scatter } from './svg.js';

type MetricKey = 'brotliBytes' | 'latencyMs' | 'macs' | 'energyUj';

interface Axis {
  key: MetricKey;
  objective: SearchReport['objective'];
  title: string;
  label: string;
  fmt: (v: number) => string;
}

const AXES: Axis[] = [
  {
    key: 'brotliBytes',
    objective: 'size',
    title: 'Brotli size vs',
    label: 'brotli bytes (log scale)',
    fmt: fmtBytes,
  },
  {
    key: 'latencyMs',
    objective: 'latency',
    title: 'Latency vs',
    label: 'latency, ms, batch 1 (log scale)',
    fmt: fmtMs,
  },
  {
    key: 'macs',
    objective: 'macs',
    title: 'MACs vs',
    label: 'MACs per inference (log scale)',
    fmt: fmtCount,
  },
  {
    key: 'energyUj',
    objective: 'energy',
    title: 'Energy vs',
    label: 'energy per inference, µJ (log scale)',
    fmt: (v) => `${fmtSig(v)} µJ`,
  },
];

function budgetText(b: NonNullable<SearchReport['budget']>): string {
  const parts = [
    b.flash !== undefined ? `flash ${fmtBytes(b.flash)}` : '',
    b.ram !== undefined ? `ram ${fmtBytes(b.ram)}` : '',
  ];
  return `--budget ${parts.filter(Boolean).join(', ')}`;
}

/** "2.1× faster" or "1.6× slower" */
function speedText(before: number | undefined, after: number | undefined): string {
  if (!(before! > 0 && after! > 0)) return '–';
  return after! <= before! ? `${fmtRatio(before, after)} faster` : `${fmtRatio(after, before)} slower`;
}

const baseName = (p: string) => p.split(/[\\/]/).pop() || p;
const metricName = (r: SearchReport) => (r.metric === 'top1' ? 'top-1 accuracy' : 'top-1 agreement');

/** Candidates, front and chosen, each once (by id, in that order). */
function everyCandidate(r: SearchReport): Candidate[] {
  const seen = new Map<string, Candidate>();
  for (const c of [...r.candidates, ...r.front, r.chosen]) if (!seen.has(c.id)) seen.set(c.id, c);
  return [...seen.values()];
}

/** The ids on the 2-D front of (key, accuracy): nothing else is both no larger and more accurate. */
export function front2d(cands: Candidate[], key: MetricKey): Set<string> {
  const pts = cands
    .filter((c) => Number.isFinite(c.metrics[key]))
    .sort((a, b) => a.metrics[key]! - b.metrics[key]! || b.metrics.accuracy - a.metrics.accuracy);
  const out = new Set<string>();
  let best = Number.NEGATIVE_INFINITY;
  for (const c of pts)
    if (c.metrics.accuracy > best) {
      out.add(c.id);
      best = c.metrics.accuracy;
    }
  return out;
}

function figures(m: CandidateMetrics, base: CandidateMetrics, r: SearchReport): string[] {
  const out = [
    `brotli ${fmtBytes(m.brotliBytes)} (${fmtRatio(base.brotliBytes, m.brotliBytes)} smaller)`,
    `${metricName(r)} ${fmtPct(m.accuracy)} (drop ${fmtPt(m.dropPt)})`,
  ];
  if (m.latencyMs !== undefined) out.push(`latency ${fmtMs(m.latencyMs)}`);
  out.push(`MACs ${fmtCount(m.macs)}, params ${fmtCount(m.params)}`);
  if (m.energyUj !== undefined) out.push(`energy ${fmtSig(m.energyUj)} µJ`);
  if (r.budget) out.push(`file ${fmtBytes(m.bytes)}, peak activations ${fmtBytes(m.peakActivationBytes)}`);
  return out;
}

function paretoPlot(r: SearchReport, cands: Candidate[], axis: Axis): string {
  const onObjective = axis.objective === r.objective;
  const onFront = onObjective
    ? new Set([...r.front.map((c) => c.id), ...cands.filter((c) => c.pareto).map((c) => c.id)])
    : front2d(cands, axis.key);
  const kind = (c: Candidate): PointKind =>
    c.id === r.chosen.id ? 'chosen' : onFront.has(c.id) ? 'front' : c.feasible ? 'candidate' : 'infeasible';
  const points: ScatterPoint[] = cands.map((c) => ({
    x: c.metrics[axis.key] ?? Number.NaN,
    y: c.metrics.accuracy,
    label: `${c.id}: ${c.label}`,
    detail: [
      ...figures(c.metrics, r.baseline, r),
      `${c.origin}${c.parent ? ` from ${c.parent}` : ''}${c.feasible ? '' : ', over budget'}${onFront.has(c.id) ? ', on the front' : ''}`,
    ],
    kind: kind(c),
    onLine: onFront.has(c.id),
    id: c.id,
  }));
  const base = r.baseline[axis.key];
  if (base !== undefined)
    points.push({
      x: base,
      y: r.baseline.accuracy,
      label: `input model: ${baseName(r.model)}`,
      detail: figures(r.baseline, r.baseline, r),
      kind: 'baseline',
    });
  const plotted = points.filter((p) => Number.isFinite(p.x) && p.x > 0).length;
  const svg = scatter({
    points,
    xLabel: axis.label,
    yLabel: metricName(r),
    ariaLabel: `${axis.title} ${metricName(r)}: ${plotted} points`,
    xLog: true,
    xFormat: axis.fmt,
    yFormat: (v) => `${(100 * v).toFixed(1)}%`,
    hline: { y: r.baseline.accuracy - r.maxDropPt / 100, label: `budget (−${fmtSig(r.maxDropPt)} pt)` },
    xTickUnit: axis.key === 'brotliBytes' ? 1024 : 1,
    callout: `chosen ${r.chosen.id}`,
  });
  const caption = onObjective
    ? `The search's front for objective ${r.objective} (blue, joined); ${plotted} points. Hover a point for its figures.`
    : `The line joins the front of these two figures (the objective is ${r.objective}); ${plotted} points.`;
  return figure(`${axis.title} ${metricName(r)}`, svg, caption);
}

function paretoSection(r: SearchReport, cands: Candidate[]): string {
  const axes = AXES.filter(
    (a) =>
      a.key === 'brotliBytes' ||
      (a.key === 'latencyMs' && cands.some((c) => Number.isFinite(c.metrics.latencyMs))) ||
      a.objective === r.objective,
  );
  return section(
    'pareto',
    'Pareto front',
    `<div class="charts">${axes.map((a) => paretoPlot(r, cands, a)).join('')}</div>`,
    `Every measured candidate: left is smaller (or faster), up is more accurate. The dashed line is the budget, --max-drop ${fmtSig(r.maxDropPt)} pt below the input model.`,
  );
}

function chosenSection(r: SearchReport): string {
  const c = r.chosen;
  const b = r.baseline;
  const m = c.metrics;
  const uj = (v: JsonNumber) => `${fmtSig(v)} µJ`;
  // figure, input, chosen, format, change; rows whose chosen value is missing are left out
  const lines: [string, number | undefined, number | undefined, (v: JsonNumber) => string, string][] = [
    ['file bytes', b.bytes, m.bytes, fmtBytes, `${fmtRatio(b.bytes, m.bytes)} smaller`],
    [
      'brotli bytes',
      b.brotliBytes,
      m.brotliBytes,
      fmtBytes,
      `${fmtRatio(b.brotliBytes, m.brotliBytes)} smaller`,
    ],
    ['params', b.params, m.params, fmtCount, fmtRatio(b.params, m.params)],
    ['MACs', b.macs, m.macs, fmtCount, fmtRatio(b.macs, m.macs)],
    [metricName(r), b.accuracy, m.accuracy, fmtPct, `drop ${fmtPt(m.dropPt)}`],
    [
      'peak activations',
      b.peakActivationBytes,
      m.peakActivationBytes,
      fmtBytes,
      fmtRatio(b.peakActivationBytes, m.peakActivationBytes),
    ],
    ['latency', b.latencyMs, m.latencyMs, fmtMs, speedText(b.latencyMs, m.latencyMs)],
    ['energy', b.energyUj, m.energyUj, uj, fmtRatio(b.energyUj, m.energyUj)],
  ];
  const rows = lines
    .filter(([, , after]) => Number.isFinite(after))
    .map(([what, before, after, f, change]) => ({
      cells: [what, { text: f(before), cls: 'n' }, { text: f(after), cls: 'n' }, { text: change, cls: 'n' }],
    }));
  const yaml = stringify(c.recipe);
  const href = `data:text/yaml;charset=utf-8,${encodeURIComponent(yaml)}`;
  const recipe = `${pre(yaml)}<p class="intro">Reuse it: <code>edgefit optimize ${esc(baseName(r.model))} --recipe recipe.yaml -o out.onnx</code> · <a download="recipe.yaml" href="${esc(href)}">save recipe.yaml</a></p>`;
  return section(
    'chosen',
    `Chosen: ${c.label}`,
    `<div class="two">${figure('input model vs chosen', table(['', ...['input', 'chosen', 'change'].map((t) => ({ text: t, cls: 'n' }))], rows))}${figure(`recipe of ${c.id} (${c.recipe.length} steps)`, recipe)}</div>`,
    c.met
      ? `The best candidate for objective ${r.objective} within --max-drop ${fmtSig(r.maxDropPt)} pt.`
      : `No candidate met --max-drop ${fmtSig(r.maxDropPt)} pt: this is the closest one.`,
  );
}

/** green at no drop, yellow at the budget, red from 4× the budget */
export function heatColor(dropPt: number, budgetPt: number): string {
  const x = Math.max(0, dropPt) / (budgetPt > 0 ? budgetPt : 1);
  const hue = x <= 1 ? 140 - 85 * x : Math.max(0, 55 - (55 * (x - 1)) / 3);
  const light = 93 - Math.min(1, x / 4) * 22;
  return `hsl(${hue.toFixed(0)} 70% ${light.toFixed(0)}%)`;
}

const unique = <T>(xs: T[]) => [...new Set(xs)];
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One layer-by-setting table of drops; `what` names the thing each row changes (a layer). */
function heatTable(heading: string, rows: SensitivityRow[], budgetPt: number, what = 'layer'): string {
  const settings = unique(rows.map((s) => s.setting));
  const layers = unique(rows.map((s) => s.layer));
  const withOps = rows.some((s) => s.op);
  const at = new Map(rows.map((s) => [`${s.layer}\u0000${s.setting}`, s]));
  const body = layers.map((layer) => {
    const op = rows.find((s) => s.layer === layer)!.op;
    const cells: Cell[] = [{ text: layer, cls: 'layer' }, ...(withOps ? [op] : [])];
    for (const setting of settings) {
      const s = at.get(`${layer}\u0000${setting}`);
      if (!s) {
        cells.push({ text: '–', cls: 'c' });
        continue;
      }
      const saved = Number.isFinite(s.bytesSaved)
        ? `<small>saves ${esc(fmtBytes(s.bytesSaved))}</small>`
        : '';
      cells.push({
        html: `<span style="display:block;background:${heatColor(s.dropPt, budgetPt)};margin:-5px -9px;padding:5px 9px">${esc(fmtPt(s.dropPt))}${saved}</span>`,
        cls: 'c',
        sort: s.dropPt,
        title: `${layer}${op ? ` (${op})` : ''}, ${s.technique} ${setting} alone: drop ${fmtPt(s.dropPt)}, saves ${fmtBytes(s.bytesSaved)} brotli`,
      });
    }
    return { cells };
  });
  const header = [what, ...(withOps ? ['op'] : []), ...settings];
  return figure(
    `${heading}: ${plural(layers.length, what)} × ${plural(settings.length, 'setting')}`,
    table(header, body, { cls: 'heat', sortable: true }),
  );
}

/** Whole-model changes (layer "(all)") in one table, a row each; per-layer techniques a table each. */
function sensitivityTables(rows: SensitivityRow[], budgetPt: number): string[] {
  const whole = rows.filter((s) => s.layer === '(all)');
  const tables = whole.length
    ? [
        heatTable(
          'whole model',
          whole.map((s) => ({
            ...s,
            layer: s.setting === s.technique ? s.technique : `${s.technique} ${s.setting}`,
            setting: 'drop',
          })),
          budgetPt,
          'change',
        ),
      ]
    : [];
  const perLayer = rows.filter((s) => s.layer !== '(all)');
  for (const t of unique(perLayer.map((s) => s.technique)))
    tables.push(
      heatTable(
        t,
        perLayer.filter((s) => s.technique === t),
        budgetPt,
      ),
    );
  return tables;
}

function sensitivitySection(r: SearchReport): string {
  if (!r.sensitivity.length)
    return section(
      'sensitivity',
      'Per-layer sensitivity',
      '<p class="intro">No sensitivity was recorded.</p>',
    );
  const swatch = (d: number, t: string) =>
    `<span style="background:${heatColor(d, r.maxDropPt)};padding:1px 6px;border-radius:3px">${esc(t)}</span>`;
  const key = `<p class="intro">Drop in ${esc(metricName(r))} when one layer alone gets the setting: ${swatch(0, '≤ 0 pt')} ${swatch(r.maxDropPt, `${fmtSig(r.maxDropPt)} pt (the budget)`)} ${swatch(4 * r.maxDropPt, `≥ ${fmtSig(4 * r.maxDropPt)} pt`)}; under each, the brotli bytes that change saves.</p>`;
  return section(
    'sensitivity',
    'Per-layer sensitivity',
    `${key}<div class="charts">${sensitivityTables(r.sensitivity, r.maxDropPt).join('')}</div>`,
  );
}

function zeroShare(h: WeightHistogram, counts: number[]): number {
  const total = counts.reduce((s, c) => s + c, 0);
  const bin = h.edges.findIndex((e, i) => i < counts.length && e <= 0 && h.edges[i + 1]! > 0);
  return bin >= 0 && total > 0 ? counts[bin]! / total : Number.NaN;
}

function histogramsSection(r: SearchReport): string {
  if (!r.histograms.length) return '';
  const figs = r.histograms.map((h) => {
    const maxB = Math.max(1, ...h.before);
    const maxA = Math.max(1, ...h.after);
    const yLog = maxA > 4 * maxB || maxB > 4 * maxA;
    const total = h.before.reduce((s, c) => s + c, 0);
    const svg = histogram({
      edges: h.edges,
      series: [
        { name: 'before', counts: h.before },
        { name: 'after', counts: h.after },
      ],
      ariaLabel: `weights of ${h.layer}: ${h.edges.length - 1} bins`,
      yLog,
      xFormat: (v) => fmtSig(v, 2),
      xLabel: 'weight value',
    });
    return figure(
      h.layer,
      svg,
      `${fmtCount(total)} weights; the bin at 0 holds ${fmtPct(zeroShare(h, h.before), 1)} before, ${fmtPct(zeroShare(h, h.after), 1)} after${yLog ? '; count axis is logarithmic' : ''}.`,
    );
  });
  return section(
    'histograms',
    'Weights before and after',
    `<div class="charts small">${figs.join('')}</div>`,
    'The chosen model against the input, layer by layer: pruning piles weights at 0, clustering and low-bit quantization leave a few spikes.',
  );
}

function candidatesSection(r: SearchReport, cands: Candidate[]): string {
  const hasLatency = cands.some((c) => Number.isFinite(c.metrics.latencyMs));
  const hasEnergy = cands.some((c) => Number.isFinite(c.metrics.energyUj));
  const onFront = new Set([...r.front.map((c) => c.id), ...cands.filter((c) => c.pareto).map((c) => c.id)]);
  const header: Cell[] = [
    '#',
    'id',
    'candidate',
    'origin',
    { text: 'brotli', cls: 'n' },
    { text: 'smaller', cls: 'n' },
    { text: r.metric === 'top1' ? 'top-1' : 'agreement', cls: 'n' },
    { text: 'drop', cls: 'n' },
    ...(hasLatency ? [{ text: 'latency', cls: 'n' }] : []),
    { text: 'MACs', cls: 'n' },
    ...(hasEnergy ? [{ text: 'energy', cls: 'n' }] : []),
    ...(r.budget
      ? [
          { text: 'file', cls: 'n' },
          { text: 'peak RAM', cls: 'n' },
        ]
      : []),
    'status',
  ];
  const rows = cands.map((c, i) => {
    const m = c.metrics;
    const status =
      c.id === r.chosen.id ? 'chosen' : onFront.has(c.id) ? 'front' : c.feasible ? '' : 'over budget';
    const cells: Cell[] = [
      i + 1,
      c.id,
      { text: c.label, cls: 'wrap', title: c.recipe.map((s) => s.pass).join(' → ') },
      `${c.origin}${c.parent ? ` ← ${c.parent}` : ''}`,
      num(fmtBytes(m.brotliBytes), m.brotliBytes),
      num(fmtRatio(r.baseline.brotliBytes, m.brotliBytes), r.baseline.brotliBytes / m.brotliBytes),
      num(fmtPct(m.accuracy), m.accuracy),
      num(fmtPt(m.dropPt), m.dropPt),
      ...(hasLatency ? [num(fmtMs(m.latencyMs), m.latencyMs ?? Number.NaN)] : []),
      num(fmtCount(m.macs), m.macs),
      ...(hasEnergy ? [num(`${fmtSig(m.energyUj)} µJ`, m.energyUj ?? Number.NaN)] : []),
      ...(r.budget
        ? [num(fmtBytes(m.bytes), m.bytes), num(fmtBytes(m.peakActivationBytes), m.peakActivationBytes)]
        : []),
      status,
    ];
    return { cells, cls: status === 'over budget' ? 'infeasible' : status };
  });
  return section(
    'candidates',
    `Candidates (${cands.length})`,
    table(header, rows, { sortable: true, cls: 'candidates' }),
    'Every candidate measured; click a header to sort. A blue edge marks the front; hover a label for its passes.',
  );
}

/** The whole page of a search report. */
export function searchPage(r: SearchReport): string {
  const cands = everyCandidate(r);
  const c = r.chosen;
  const e = r.evaluations;
  const sub = [
    `objective ${r.objective}`,
    `--max-drop ${fmtSig(r.maxDropPt)} pt of ${metricName(r)}`,
    r.budget ? budgetText(r.budget) : '',
    e ? `${e.total} evaluations (${e.cached} cached) in ${fmtSig(e.seconds / 60, 2)} min` : '',
    r.output ? `wrote ${r.output}` : '',
  ].filter(Boolean);
  const summary = cards([
    {
      key: `chosen ${c.id}`,
      value: c.label,
      badge: badge(c.met, 'within budget', 'over budget'),
      wide: true,
    },
    {
      key: 'brotli size',
      value: `${fmtRatio(r.baseline.brotliBytes, c.metrics.brotliBytes)} smaller`,
      detail: `${fmtBytes(r.baseline.brotliBytes)} → ${fmtBytes(c.metrics.brotliBytes)}`,
    },
    {
      key: metricName(r),
      value: fmtPct(c.metrics.accuracy),
      detail: `input ${fmtPct(r.baseline.accuracy)}, drop ${fmtPt(c.metrics.dropPt)} (budget ${fmtSig(r.maxDropPt)} pt)`,
    },
    ...(c.metrics.latencyMs !== undefined
      ? [
          {
            key: 'latency',
            value: fmtMs(c.metrics.latencyMs),
            detail: `input ${fmtMs(r.baseline.latencyMs)} (${speedText(r.baseline.latencyMs, c.metrics.latencyMs)})`,
          },
        ]
      : []),
    { key: 'front', value: `${r.front.length} points`, detail: `of ${cands.length} candidates` },
  ]);
  const body = [
    `<header><h1>edgefit search · ${esc(baseName(r.model))}</h1><p class="sub">${esc(sub.join(' · '))}</p></header>`,
    summary,
    warningsBlock(r.warnings),
    paretoSection(r, cands),
    chosenSection(r),
    sensitivitySection(r),
    histogramsSection(r),
    candidatesSection(r, cands),
  ].join('\n');
  return page(`edgefit search · ${baseName(r.model)}`, body);
}
