// The SVG renderers: one element per data point, positions inside the plot frame and in order, axis
// ranges that cover the data on round ticks, every text escaped.
import { describe, expect, it } from 'vitest';
import { esc } from '../../src/report/format.js';
import { bars, extent, histogram, logTicks, niceTicks, scatter } from '../../src/report/svg.js';

/** the attributes of every `<tag class="cls...` outside the legend (whose swatches share the classes) */
function elements(svg: string, tag: string, cls: string): Record<string, string>[] {
  const re = new RegExp(`<${tag} class="${cls}[^"]*"([^>]*)>`, 'g');
  return [...svg.replace(/<g class="legend">.*?<\/g>/s, '').matchAll(re)].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])),
  );
}

const frameOf = (svg: string) => {
  // the axes: x axis along y0 from x0 to x1, y axis along x0 from y1 to y0
  const [x] = elements(svg, 'line', 'axis');
  const [, y] = elements(svg, 'line', 'axis');
  return { x0: Number(x!.x1), x1: Number(x!.x2), y0: Number(x!.y1), y1: Number(y!.y1) };
};

describe('ticks and ranges', () => {
  it('niceTicks: round steps (1, 2 or 5 x 10^k) covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.861, 0.882, 5)).toEqual([0.865, 0.87, 0.875, 0.88]);
    expect(niceTicks(-3, 7, 5)).toEqual([-2, 0, 2, 4, 6]);
    expect(niceTicks(5, 5)).toEqual([5]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });

  it('logTicks: 1-2-5 marks of each decade, inside the range, about as many as asked', () => {
    const t = logTicks(30_000, 900_000);
    expect(t).toEqual([50_000, 100_000, 200_000, 500_000]);
    const wide = logTicks(1, 1e9);
    expect(wide.length).toBeGreaterThanOrEqual(4);
    expect(wide.length).toBeLessThanOrEqual(12);
    expect(wide.every((v, i) => i === 0 || v > wide[i - 1]!)).toBe(true);
    // within a narrow band the decade marks are too few: round linear steps instead
    expect(logTicks(0.012, 0.031)).toEqual([0.015, 0.02, 0.025, 0.03]);
  });

  it('extent: pads, ends on ticks, widens a single value, keeps a log range positive', () => {
    const [lo, hi] = extent([0.871, 0.881]);
    expect(lo).toBeLessThan(0.871);
    expect(hi).toBeGreaterThan(0.881);
    expect(hi - lo).toBeLessThan(0.02);
    expect(niceTicks(lo, hi).at(0)).toBeCloseTo(lo, 12);
    expect(niceTicks(lo, hi).at(-1)).toBeCloseTo(hi, 12);
    expect(extent([3, 3])).toEqual([2.6, 3.4]); // ±10%, padded, on 0.2 ticks
    const [a, b] = extent([0, -5, 37_000, 873_000], { log: true });
    expect(a).toBeGreaterThan(0);
    expect(a).toBeLessThan(37_000);
    expect(b).toBeGreaterThan(873_000);
    expect(extent([])).toEqual([0, 1]);
  });
});

describe('scatter', () => {
  const points = [
    { x: 873_000, y: 0.881, label: 'input', kind: 'baseline' as const },
    { x: 37_000, y: 0.871, label: 'c7', kind: 'chosen' as const, onLine: true },
    { x: 56_000, y: 0.874, label: 'c5', kind: 'front' as const, onLine: true },
    { x: 200_000, y: 0.879, label: 'c9', kind: 'front' as const, onLine: true },
    { x: 40_000, y: 0.832, label: 'c18', kind: 'infeasible' as const },
    { x: 90_000, y: 0.869, label: 'c11' },
    { x: Number.NaN, y: 0.5, label: 'no size' },
  ];
  const svg = scatter({
    points,
    xLabel: 'brotli bytes',
    yLabel: 'top-1',
    ariaLabel: 'size vs accuracy',
    xLog: true,
    hline: { y: 0.871, label: 'budget' },
    callout: 'chosen c7',
  });

  it('one circle per finite point, each with its tooltip, the chosen one marked once', () => {
    const pts = elements(svg, 'circle', 'pt ');
    expect(pts).toHaveLength(6);
    expect(svg.match(/<circle class="pt [^"]*"[^>]*><title>/g)).toHaveLength(6); // legend swatches have none
    expect(elements(svg, 'circle', 'pt pt-chosen')).toHaveLength(1);
    expect(elements(svg, 'circle', 'halo')).toHaveLength(1);
    expect(svg).toContain('<title>c18</title>');
    expect(svg).not.toContain('no size');
    expect(svg).toContain('chosen c7');
  });

  it('points fall inside the frame, in the order of their values (log x, linear y)', () => {
    const f = frameOf(svg);
    const pts = elements(svg, 'circle', 'pt ').map((p) => ({ x: Number(p.cx), y: Number(p.cy) }));
    for (const p of pts) {
      expect(p.x).toBeGreaterThanOrEqual(f.x0);
      expect(p.x).toBeLessThanOrEqual(f.x1);
      expect(p.y).toBeGreaterThanOrEqual(f.y1);
      expect(p.y).toBeLessThanOrEqual(f.y0);
    }
    // drawn in kind order: infeasible, candidate, front, front, baseline, chosen
    const [c18, c11, c5, c9, input, c7] = pts;
    expect(c7!.x).toBeLessThan(c18!.x);
    expect(c18!.x).toBeLessThan(c5!.x);
    expect(c9!.x).toBeLessThan(input!.x);
    expect(input!.y).toBeLessThan(c9!.y); // more accurate is higher up
    expect(c18!.y).toBeGreaterThan(c11!.y);
    // on a log axis 37k..56k and 56k..200k are spaced by their ratios
    const ratio = (c5!.x - c7!.x) / (c9!.x - c5!.x);
    expect(ratio).toBeCloseTo(Math.log(56 / 37) / Math.log(200 / 56), 1);
  });

  it('the front is one polyline through the front points in x order; the budget a dashed line', () => {
    const [line] = elements(svg, 'polyline', 'front-line');
    const xs = line!.points!.split(' ').map((p) => Number(p.split(',')[0]));
    expect(xs).toHaveLength(3);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(elements(svg, 'line', 'hline')).toHaveLength(1);
  });

  it('axis ticks are increasing, inside the frame, and the y range covers every point', () => {
    const f = frameOf(svg);
    const yTicks = [
      ...svg.matchAll(/<text class="tick-label" x="[\d.]+" y="([\d.]+)" text-anchor="end">([^<]+)</g),
    ];
    expect(yTicks.length).toBeGreaterThanOrEqual(3);
    const values = yTicks.map((t) => Number(t[2]));
    expect(values.every((v, i) => i === 0 || v > values[i - 1]!)).toBe(true);
    expect(values[0]).toBeLessThanOrEqual(0.832);
    expect(values.at(-1)).toBeGreaterThanOrEqual(0.881 - 0.01);
    for (const t of yTicks) expect(Number(t[1]) - 4).toBeGreaterThanOrEqual(f.y1 - 0.5);
  });

  it('escapes labels, tooltips, axis names and the aria label', () => {
    const evil = '<script>alert("x")</script> & \'q\'';
    const s = scatter({
      points: [{ x: 1, y: 1, label: evil, detail: [evil] }],
      xLabel: evil,
      yLabel: 'y',
      ariaLabel: evil,
      callout: evil,
    });
    expect(s).not.toContain('<script>');
    expect(s).toContain(esc(evil));
    expect(esc(evil)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;');
  });

  it('nothing to plot is a note, not a broken chart', () => {
    const s = scatter({ points: [], xLabel: 'x', yLabel: 'y', ariaLabel: 'empty' });
    expect(s).toContain('no points to plot');
    expect(elements(s, 'circle', 'pt ')).toHaveLength(0);
  });
});

describe('bars', () => {
  it('one rect per finite value and series; negatives extend left of zero', () => {
    const svg = bars({
      rows: [
        { label: 'fc1', values: [0.4, 0.1] },
        { label: 'fc2', values: [-0.2, Number.NaN] },
        { label: 'fc3 <b>', values: [1.5, 0.9] },
      ],
      series: ['before', 'after'],
      ariaLabel: 'drops',
    });
    const rects = elements(svg, 'rect', 'bar ');
    expect(rects).toHaveLength(5);
    expect(elements(svg, 'rect', 'bar s1')).toHaveLength(2);
    const [zero] = elements(svg, 'line', 'zero');
    const z = Number(zero!.x1);
    const neg = rects[2]!; // fc2 before
    expect(Number(neg.x) + Number(neg.width)).toBeCloseTo(z, 0);
    expect(Number(neg.x)).toBeLessThan(z);
    const big = rects[3]!; // fc3 before, the largest: the longest bar
    expect(Number(big.width)).toBeGreaterThan(Number(rects[0]!.width) * 3);
    expect(svg).toContain('fc3 &lt;b&gt;');
    expect(svg).not.toContain('<b>');
  });
});

describe('histogram', () => {
  const edges = [-1, -0.5, 0, 0.5, 1];
  it('a bin rect per bin of the first series, a step path per other series, a tooltip per bin', () => {
    const svg = histogram({
      edges,
      series: [
        { name: 'before', counts: [10, 40, 35, 15] },
        { name: 'after', counts: [5, 2, 90, 3] },
      ],
      ariaLabel: 'w',
    });
    const bins = elements(svg, 'rect', 'bin s0');
    expect(bins).toHaveLength(4);
    expect(elements(svg, 'path', 'step s1')).toHaveLength(1);
    expect(svg.match(/<rect class="hit"/g)).toHaveLength(4);
    expect(svg).toContain('[-0.5, 0): before 40, after 2');
    // the tallest bin (40) is the highest rect; heights are proportional to the counts
    const h = bins.map((b) => Number(b.height));
    expect(h[1]! / h[0]!).toBeCloseTo(4, 1);
    // bins are adjacent and in order
    expect(Number(bins[1]!.x)).toBeCloseTo(Number(bins[0]!.x) + Number(bins[0]!.width), 0);
  });

  it('a log count axis keeps small bins visible next to a spike', () => {
    const svg = histogram({
      edges,
      series: [
        { name: 'before', counts: [10, 1000, 10, 1] },
        { name: 'after', counts: [0, 1000, 0, 0] },
      ],
      ariaLabel: 'w',
      yLog: true,
    });
    const h = elements(svg, 'rect', 'bin s0').map((b) => Number(b.height));
    expect(h[0]! / h[1]!).toBeCloseTo(Math.log10(11) / Math.log10(1001), 1);
    expect(svg).toContain('>1e3<');
  });

  it('counts that do not fit the edges are a note', () => {
    const svg = histogram({ edges, series: [{ name: 'before', counts: [1, 2] }], ariaLabel: 'w' });
    expect(svg).toContain('edges and counts disagree');
    expect(elements(svg, 'rect', 'bin')).toHaveLength(0);
  });
});
