// Hand-rolled SVG charts for the HTML report: scatter (the Pareto plots), bars (per-layer figures),
// histogram (weights before/after). Each is a pure function from numbers and labels to one SVG
// string: no DOM, no dependency, every text escaped, tooltips as <title> children. Coordinates are
// viewBox pixels; the page's CSS scales each SVG to its column and styles it through the classes.

import { esc } from './format.js';

type Fmt = (v: number) => string;

// ---- scales and ticks

/** Round, evenly spaced tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (!(hi > lo)) return [lo];
  const step = niceStep((hi - lo) / Math.max(1, count));
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
    out.push(Number((k * step).toPrecision(12)));
  return out;
}

function niceStep(raw: number): number {
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/** niceTicks counted in `unit`s: round KiB for bytes */
export function unitTicks(lo: number, hi: number, count: number, unit: number): number[] {
  return niceTicks(lo / unit, hi / unit, count).map((t) => t * unit);
}

/** Ticks on a log axis: 1-2-5 of each decade, thinned to about `count`, always at least two. */
export function logTicks(lo: number, hi: number, count = 6): number[] {
  if (!(lo > 0) || !(hi > lo)) return lo > 0 ? [lo] : [];
  const all: number[][] = [[1], [1, 5], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]].map((ms) => {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
      for (const m of ms) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    return out;
  });
  const ok = all.filter((t) => t.length >= 2);
  const best = ok.length
    ? ok.reduce((a, b) => (Math.abs(b.length - count) < Math.abs(a.length - count) ? b : a))
    : [];
  // within about a decade the 1-2-5 marks are too sparse: plain round steps read better
  if (best.length < 4 && hi / lo < 20) return niceTicks(lo, hi, count - 1).filter((t) => t > 0);
  return best;
}

/**
 * The axis range of some values: padded by `pad` of the span, widened when all values are equal,
 * on a log axis only positive values count. Linear ranges end on ticks.
 */
export function extent(values: number[], options: { log?: boolean; pad?: number } = {}): [number, number] {
  const pad = options.pad ?? 0.06;
  const vs = values.filter((v) => Number.isFinite(v) && (!options.log || v > 0));
  if (!vs.length) return options.log ? [1, 10] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (options.log) {
    if (hi / lo < 1.0001) [lo, hi] = [lo / 2, hi * 2];
    const f = (hi / lo) ** pad;
    return [lo / f, hi * f];
  }
  if (hi - lo < 1e-12 * Math.max(1, Math.abs(hi))) {
    const w = Math.abs(hi) * 0.1 || 1;
    [lo, hi] = [lo - w, hi + w];
  }
  const span = hi - lo;
  const step = niceStep((span * (1 + 2 * pad)) / 5);
  const snap = (v: number) => Number(v.toPrecision(12));
  return [
    snap(Math.floor((lo - span * pad) / step) * step),
    snap(Math.ceil((hi + span * pad) / step) * step),
  ];
}

/** value → pixel, linear or log10, for domain [d0, d1] and range [r0, r1]. */
export function scale(d0: number, d1: number, r0: number, r1: number, log = false): (v: number) => number {
  const f = log ? Math.log10 : (v: number) => v;
  const a = f(d0);
  const span = f(d1) - a || 1;
  return (v) => r0 + ((f(v) - a) / span) * (r1 - r0);
}

// ---- shared pieces

const CHAR = 0.6; // average glyph width of the UI font, in font-size units

/** Text cut to fit `px` pixels at `size` px, with an ellipsis. */
export function clipText(text: string, px: number, size = 11): string {
  const n = Math.max(1, Math.floor(px / (size * CHAR)));
  return text.length <= n ? text : `${text.slice(0, Math.max(1, n - 1))}…`;
}

const r1 = (v: number) => Math.round(v * 10) / 10;

function svgOpen(cls: string, w: number, h: number, label: string): string {
  return `<svg class="chart ${cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${esc(label)}">`;
}

function title(lines: string[]): string {
  return `<title>${esc(lines.join('\n'))}</title>`;
}

interface Frame {
  x0: number;
  x1: number;
  y0: number; // bottom
  y1: number; // top
}

/** An axis along the bottom (x) or the left (y) of the frame: line, grid lines, ticks, labels. */
function axis(
  side: 'x' | 'y',
  f: Frame,
  ticks: number[],
  at: (v: number) => number,
  fmt: Fmt,
  label: string,
) {
  const x = side === 'x';
  const parts = [
    x
      ? `<line class="axis" x1="${f.x0}" y1="${f.y0}" x2="${f.x1}" y2="${f.y0}"/>`
      : `<line class="axis" x1="${f.x0}" y1="${f.y1}" x2="${f.x0}" y2="${f.y0}"/>`,
  ];
  for (const t of ticks) {
    const p = r1(at(t));
    const [grid, tick, text] = x
      ? [
          `x1="${p}" y1="${f.y1}" x2="${p}" y2="${f.y0}"`,
          `x1="${p}" y1="${f.y0}" x2="${p}" y2="${f.y0 + 4}"`,
          `x="${p}" y="${f.y0 + 16}" text-anchor="middle"`,
        ]
      : [
          `x1="${f.x0}" y1="${p}" x2="${f.x1}" y2="${p}"`,
          `x1="${f.x0 - 4}" y1="${p}" x2="${f.x0}" y2="${p}"`,
          `x="${f.x0 - 7}" y="${p + 4}" text-anchor="end"`,
        ];
    parts.push(
      `<line class="gridline" ${grid}/>`,
      `<line class="tick" ${tick}/>`,
      `<text class="tick-label" ${text}>${esc(fmt(t))}</text>`,
    );
  }
  if (label) {
    const c = r1(x ? (f.x0 + f.x1) / 2 : (f.y0 + f.y1) / 2);
    parts.push(
      x
        ? `<text class="axis-label" x="${c}" y="${f.y0 + 34}" text-anchor="middle">${esc(label)}</text>`
        : `<text class="axis-label" x="14" y="${c}" text-anchor="middle" transform="rotate(-90 14 ${c})">${esc(label)}</text>`,
    );
  }
  return `<g class="${side}-axis">${parts.join('')}</g>`;
}

type LegendItem = { cls: string; text: string; shape: 'dot' | 'box' | 'line' };

/** Legend swatches in rows from (x0, y), wrapped before `maxX`; returns the SVG and the rows used. */
function legend(x0: number, y: number, maxX: number, items: LegendItem[]): { svg: string; rows: number } {
  const parts: string[] = [];
  let x = x0;
  let rows = 1;
  for (const it of items) {
    const w = 24 + it.text.length * 11 * CHAR;
    if (x > x0 && x + w - 8 > maxX) {
      [x, y, rows] = [x0, y + 15, rows + 1];
    }
    if (it.shape === 'dot') parts.push(`<circle class="${it.cls}" cx="${x + 5}" cy="${y - 4}" r="4.5"/>`);
    else if (it.shape === 'box')
      parts.push(`<rect class="${it.cls}" x="${x}" y="${y - 9}" width="10" height="10"/>`);
    else parts.push(`<line class="${it.cls}" x1="${x - 2}" y1="${y - 4}" x2="${x + 12}" y2="${y - 4}"/>`);
    parts.push(`<text class="legend-label" x="${x + 15}" y="${y}">${esc(it.text)}</text>`);
    x += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, rows };
}

function empty(cls: string, w: number, h: number, label: string, why: string): string {
  return `${svgOpen(cls, w, h, label)}<text class="empty" x="${w / 2}" y="${h / 2}" text-anchor="middle">${esc(why)}</text></svg>`;
}

// ---- scatter

export type PointKind = 'candidate' | 'infeasible' | 'front' | 'chosen' | 'baseline';

export interface ScatterPoint {
  x: number;
  y: number;
  /** the tooltip's first line */
  label: string;
  /** the tooltip's other lines: the point's figures */
  detail?: string[];
  kind?: PointKind;
  /** joined to the other `onLine` points in x order (the Pareto front, a training curve) */
  onLine?: boolean;
  id?: string;
}

export interface ScatterSpec {
  points: ScatterPoint[];
  xLabel: string;
  yLabel: string;
  /** short description for screen readers */
  ariaLabel: string;
  xLog?: boolean;
  xFormat?: Fmt;
  yFormat?: Fmt;
  /** log-axis ticks fall on 1-2-5 multiples of this unit (1024 puts byte ticks on round KiB) */
  xTickUnit?: number;
  /** a horizontal reference line, e.g. the accuracy budget, named in the legend */
  hline?: { y: number; label: string };
  /** a callout beside the chosen point, e.g. "chosen: int4 + lowrank" */
  callout?: string;
  width?: number;
  height?: number;
}

const DRAW_ORDER: PointKind[] = ['infeasible', 'candidate', 'front', 'baseline', 'chosen'];
const LEGEND: Record<PointKind, string> = {
  candidate: 'candidate',
  infeasible: 'over budget',
  front: 'front',
  baseline: 'input',
  chosen: 'chosen',
};

/** A scatter plot: one `<circle class="pt pt-KIND">` per finite point, each with a tooltip. */
export function scatter(spec: ScatterSpec): string {
  const w = spec.width ?? 560;
  const h = spec.height ?? 360;
  const pts = spec.points.filter(
    (p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!spec.xLog || p.x > 0),
  );
  if (!pts.length) return empty('scatter', w, h, spec.ariaLabel, 'no points to plot');
  const xf = spec.xFormat ?? String;
  const yf = spec.yFormat ?? String;
  const kinds = new Set(pts.map((p) => p.kind ?? 'candidate'));
  const items: LegendItem[] = DRAW_ORDER.filter((k) => kinds.has(k)).map((k) => ({
    cls: `pt pt-${k}`,
    text: LEGEND[k],
    shape: 'dot',
  }));
  if (spec.hline) items.push({ cls: 'hline', text: spec.hline.label, shape: 'line' });
  const key = legend(68, 16, w - 18, items);
  const f: Frame = { x0: 68, x1: w - 18, y0: h - 46, y1: 16 + 15 * key.rows };
  const [xlo, xhi] = extent(
    pts.map((p) => p.x),
    { log: spec.xLog ?? false },
  );
  const [ylo, yhi] = extent([...pts.map((p) => p.y), ...(spec.hline ? [spec.hline.y] : [])]);
  const sx = scale(xlo, xhi, f.x0, f.x1, spec.xLog);
  const sy = scale(ylo, yhi, f.y0, f.y1);
  const unit = spec.xTickUnit ?? 1;
  const xt = spec.xLog ? logTicks(xlo / unit, xhi / unit).map((t) => t * unit) : niceTicks(xlo, xhi);
  const parts = [
    svgOpen('scatter', w, h, spec.ariaLabel),
    axis('x', f, xt, sx, xf, spec.xLabel),
    axis('y', f, niceTicks(ylo, yhi), sy, yf, spec.yLabel),
  ];
  if (spec.hline) {
    const y = r1(sy(spec.hline.y));
    parts.push(`<line class="hline" x1="${f.x0}" y1="${y}" x2="${f.x1}" y2="${y}"/>`);
  }
  const line = pts.filter((p) => p.onLine).sort((a, b) => a.x - b.x);
  if (line.length > 1)
    parts.push(
      `<polyline class="front-line" points="${line.map((p) => `${r1(sx(p.x))},${r1(sy(p.y))}`).join(' ')}"/>`,
    );
  for (const kind of DRAW_ORDER)
    for (const p of pts) {
      if ((p.kind ?? 'candidate') !== kind) continue;
      const [cx, cy] = [r1(sx(p.x)), r1(sy(p.y))];
      const rad = kind === 'chosen' ? 6.5 : kind === 'baseline' ? 5.5 : 4.5;
      if (kind === 'chosen') parts.push(`<circle class="halo" cx="${cx}" cy="${cy}" r="11"/>`);
      const id = p.id ? ` data-id="${esc(p.id)}"` : '';
      parts.push(
        `<circle class="pt pt-${kind}" cx="${cx}" cy="${cy}" r="${rad}"${id}>${title([p.label, ...(p.detail ?? [])])}</circle>`,
      );
      const note = kind === 'chosen' ? spec.callout : kind === 'baseline' ? 'input' : undefined;
      if (note) {
        const right = cx < (f.x0 + f.x1) / 2;
        const room = right ? f.x1 - cx - 16 : cx - f.x0 - 16;
        parts.push(
          `<text class="callout callout-${kind}" x="${right ? cx + 14 : cx - 14}" y="${Math.max(f.y1 + 10, cy - 10)}" text-anchor="${right ? 'start' : 'end'}">${esc(clipText(note, room))}</text>`,
        );
      }
    }
  parts.push(key.svg, '</svg>');
  return parts.join('');
}

// ---- bars

export interface BarRow {
  label: string;
  /** one value per series */
  values: number[];
  /** extra tooltip line */
  detail?: string;
}

export interface BarsSpec {
  rows: BarRow[];
  /** series names (a legend when there are two or more) */
  series: string[];
  ariaLabel: string;
  format?: Fmt;
  /** ticks fall on round multiples of this unit (1024 for bytes in KiB) */
  tickUnit?: number;
  xLabel?: string;
  width?: number;
}

/** Horizontal bars, one group per row, one `<rect class="bar sI">` per finite value; negatives go left of 0. */
export function bars(spec: BarsSpec): string {
  const w = spec.width ?? 560;
  const fmt = spec.format ?? String;
  const ns = Math.max(1, spec.series.length);
  const values = spec.rows.flatMap((r) => r.values).filter(Number.isFinite);
  if (!spec.rows.length || !values.length) return empty('bars', w, 80, spec.ariaLabel, 'no values to plot');
  const bar = 13;
  const group = ns * bar + (ns - 1) * 2 + 9;
  const labelW = Math.min(190, 12 + Math.max(...spec.rows.map((r) => r.label.length)) * 11 * CHAR);
  const top = ns > 1 ? 28 : 10;
  const f: Frame = { x0: labelW, x1: w - 58, y0: top + spec.rows.length * group, y1: top };
  const h = f.y0 + (spec.xLabel ? 42 : 26);
  let [lo, hi] = extent([0, ...values], { pad: 0.02 });
  if (Math.min(...values) >= 0) lo = 0;
  if (Math.max(...values) <= 0) hi = 0;
  const sx = scale(lo, hi, f.x0, f.x1);
  const parts = [
    svgOpen('bars', w, h, spec.ariaLabel),
    axis('x', { ...f, y1: f.y1 - 4 }, unitTicks(lo, hi, 4, spec.tickUnit ?? 1), sx, fmt, spec.xLabel ?? ''),
  ];
  const zero = r1(sx(0));
  spec.rows.forEach((row, i) => {
    const gy = f.y1 + i * group + 4;
    parts.push(
      `<text class="bar-label" x="${f.x0 - 6}" y="${r1(gy + (ns * (bar + 2)) / 2 + 2)}" text-anchor="end">${esc(clipText(row.label, labelW - 10))}${title([row.label])}</text>`,
    );
    row.values.forEach((v, s) => {
      if (!Number.isFinite(v)) return;
      const x = r1(Math.min(zero, sx(v)));
      const y = gy + s * (bar + 2);
      const width = Math.max(0.5, r1(Math.abs(sx(v) - zero)));
      const tip = [`${row.label}${ns > 1 ? ` — ${spec.series[s]}` : ''}: ${fmt(v)}`];
      if (row.detail) tip.push(row.detail);
      parts.push(
        `<rect class="bar s${s}" x="${x}" y="${y}" width="${width}" height="${bar}">${title(tip)}</rect>`,
        `<text class="bar-value" x="${v < 0 ? x - 3 : x + width + 3}" y="${y + bar - 3}" text-anchor="${v < 0 ? 'end' : 'start'}">${esc(fmt(v))}</text>`,
      );
    });
  });
  parts.push(`<line class="zero" x1="${zero}" y1="${f.y1}" x2="${zero}" y2="${f.y0}"/>`);
  if (ns > 1)
    parts.push(
      legend(
        f.x0,
        16,
        w,
        spec.series.map((s, i) => ({ cls: `bar s${i}`, text: s, shape: 'box' as const })),
      ).svg,
    );
  parts.push('</svg>');
  return parts.join('');
}

// ---- histogram

export interface HistogramSpec {
  /** bin edges: one more than each series' counts */
  edges: number[];
  /** the first is drawn as filled bins, the others as step lines over them */
  series: { name: string; counts: number[] }[];
  ariaLabel: string;
  /** log10(1 + count) on y: keeps a spike (pruned zeros) from flattening the rest */
  yLog?: boolean;
  xLabel?: string;
  xFormat?: Fmt;
  width?: number;
  height?: number;
}

/** A histogram: `<rect class="bin">` per bin of the first series, `<path class="step sI">` per other series. */
export function histogram(spec: HistogramSpec): string {
  const w = spec.width ?? 360;
  const h = spec.height ?? 220;
  const bins = spec.edges.length - 1;
  const series = spec.series.filter((s) => s.counts.length === bins);
  if (bins < 1 || !series.length || !spec.edges.every(Number.isFinite))
    return empty('histogram', w, h, spec.ariaLabel, 'no histogram (edges and counts disagree)');
  const xf = spec.xFormat ?? String;
  const f: Frame = { x0: 52, x1: w - 12, y0: h - (spec.xLabel ? 44 : 28), y1: 26 };
  const lo = spec.edges[0]!;
  const hi = spec.edges[bins]!;
  const sx = scale(lo, hi, f.x0, f.x1);
  const maxCount = Math.max(1, ...series.flatMap((s) => s.counts));
  const yv = (c: number) => (spec.yLog ? Math.log10(1 + c) : c);
  const top = spec.yLog ? Math.ceil(Math.log10(1 + maxCount)) : extent([0, maxCount], { pad: 0.02 })[1];
  const sy = scale(0, top, f.y0, f.y1);
  const yTicks = spec.yLog ? Array.from({ length: top + 1 }, (_, k) => k) : niceTicks(0, top, 4);
  const yFmt = spec.yLog
    ? (k: number) => (k === 0 ? '0' : `1e${k}`)
    : (v: number) => (v >= 1000 ? `${Number((v / 1000).toPrecision(3))}k` : String(v));
  const parts = [
    svgOpen('histogram', w, h, spec.ariaLabel),
    axis('x', f, niceTicks(lo, hi, 5), sx, xf, spec.xLabel ?? ''),
    axis('y', f, yTicks, sy, yFmt, ''),
  ];
  const first = series[0]!;
  for (let b = 0; b < bins; b++) {
    const [xa, xb] = [r1(sx(spec.edges[b]!)), r1(sx(spec.edges[b + 1]!))];
    const y = r1(sy(yv(first.counts[b]!)));
    const tip = `[${xf(spec.edges[b]!)}, ${xf(spec.edges[b + 1]!)}): ${series.map((s) => `${s.name} ${s.counts[b]}`).join(', ')}`;
    parts.push(
      `<rect class="bin s0" x="${xa}" y="${y}" width="${Math.max(0.5, r1(xb - xa))}" height="${r1(f.y0 - y)}"/>`,
      `<rect class="hit" x="${xa}" y="${f.y1}" width="${Math.max(0.5, r1(xb - xa))}" height="${f.y0 - f.y1}">${title([tip])}</rect>`,
    );
  }
  series.slice(1).forEach((s, i) => {
    let d = `M${r1(sx(lo))},${f.y0}`;
    for (let b = 0; b < bins; b++) {
      const y = r1(sy(yv(s.counts[b]!)));
      d += `V${y}H${r1(sx(spec.edges[b + 1]!))}`;
    }
    parts.push(`<path class="step s${i + 1}" d="${d}V${f.y0}"/>`);
  });
  parts.push(
    legend(
      f.x0,
      16,
      w,
      series.map((s, i) => ({
        cls: i === 0 ? 'bin s0' : `step s${i}`,
        text: s.name,
        shape: i === 0 ? 'box' : 'line',
      })),
    ).svg,
    '</svg>',
  );
  return parts.join('');
}
