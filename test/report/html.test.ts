// The pages: a search report shows every candidate once per Pareto plot, a heat cell per sensitivity
// row, a histogram per layer, a table row per candidate and the chosen recipe; a transform report its
// sizes, passes and extras. Nothing on the page can fetch anything, and every text is escaped.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgefitError } from '../../src/errors.js';
import { renderReport } from '../../src/report/html.js';
import type { SearchReport, TransformReport } from '../../src/report/schema.js';

const FIX = join(import.meta.dirname, 'fixtures');
const load = <T>(name: string): T => JSON.parse(readFileSync(join(FIX, name), 'utf8')) as T;
const search = load<SearchReport>('search.json');
const quantize = load<TransformReport>('quantize.json');

/** the SVG charts of a page, by class */
function charts(html: string, cls: string): string[] {
  return [...html.matchAll(new RegExp(`<svg class="chart ${cls}"[\\s\\S]*?</svg>`, 'g'))].map((m) => m[0]);
}
const marks = (svg: string, re: RegExp) =>
  svg.replace(/<g class="legend">[\s\S]*?<\/g>/, '').match(re)?.length ?? 0;

describe('search page', () => {
  const html = renderReport(search);
  const ids = new Set([...search.candidates, ...search.front, search.chosen].map((c) => c.id));

  it('two Pareto plots (size, latency), each with every candidate and the input as a point', () => {
    const plots = charts(html, 'scatter');
    expect(plots).toHaveLength(2);
    for (const svg of plots) {
      expect(marks(svg, /<circle class="pt /g)).toBe(ids.size + 1);
      expect(marks(svg, /<circle class="pt pt-chosen"/g)).toBe(1);
      expect(marks(svg, /<circle class="pt pt-baseline"/g)).toBe(1);
      expect(svg).toContain(`data-id="${search.chosen.id}"`);
    }
    // the size plot joins the search's own front: one vertex per front point
    const line = /<polyline class="front-line" points="([^"]+)"/.exec(plots[0]!)![1]!;
    expect(line.split(' ')).toHaveLength(search.front.length);
    expect(marks(plots[0]!, /<circle class="pt pt-(front|chosen)"/g)).toBe(search.front.length);
  });

  it('the chosen point tooltip carries its label and figures', () => {
    const c = search.chosen;
    const ratio = (search.baseline.brotliBytes / c.metrics.brotliBytes).toPrecision(3);
    expect(html).toContain(
      `<title>${c.id}: ${c.label}\nbrotli 36.2 KiB (${ratio}× smaller)\ntop-1 accuracy 87.10% (drop 1.00 pt)`,
    );
  });

  it('a heat cell per sensitivity row, a histogram per layer, a row per candidate', () => {
    expect(html.match(/<td class="c" data-v=/g)).toHaveLength(search.sensitivity.length);
    expect(search.sensitivity.length).toBe(36);
    const hists = charts(html, 'histogram');
    expect(hists).toHaveLength(search.histograms.length);
    for (const svg of hists) expect(marks(svg, /<rect class="bin s0"/g)).toBe(48);
    const table = /<table class="sortable candidates">[\s\S]*?<\/table>/.exec(html)![0];
    expect(table.match(/<tr/g)).toHaveLength(ids.size + 1);
    expect(table.match(/<tr class="chosen">/g)).toHaveLength(1);
    expect(table.match(/<tr class="infeasible">/g)!.length).toBe(
      search.candidates.filter((c) => !c.feasible && !c.pareto && c.id !== search.chosen.id).length,
    );
  });

  it('the chosen recipe as YAML, with a data: download link', () => {
    expect(html).toContain(
      '- pass: decompose-svd\n  options:\n    rankRatio: 0.15\n  nodes:\n    - /net/net.1/Gemm',
    );
    expect(html).toMatch(/<a download="recipe.yaml" href="data:text\/yaml;charset=utf-8,/);
  });

  it('fetches nothing: no src, no external href, no url(), a CSP that forbids it', () => {
    expect(html).not.toMatch(/\ssrc=/);
    expect(html).not.toMatch(/url\(|@import/);
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1]).toMatch(/^data:/);
    expect(html).toContain(
      `content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"`,
    );
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('escapes candidate labels and warnings', () => {
    expect(search.candidates.at(-1)!.label).toContain('<&> "quoted"');
    expect(html).not.toContain('<&>');
    expect(html).toContain('&lt;&amp;&gt; &quot;quoted&quot;');
    expect(html).toContain('max rel. error 3.1 &gt; 0.5');
  });

  it('a missed budget says so; a device budget is shown', () => {
    const missed = renderReport({
      ...search,
      chosen: { ...search.chosen, met: false },
      budget: { flash: 65536, ram: 8192 },
    });
    expect(missed).toContain('this is the closest one');
    expect(missed).toContain('over budget</span>');
    expect(missed).toContain('--budget flash 64 KiB, ram 8 KiB');
    expect(missed).toContain('<th class="n">peak RAM</th>');
  });

  it('a latency objective draws its own plot with the search front, the size plot its own 2-D front', () => {
    const r: SearchReport = { ...search, objective: 'latency' };
    const page = renderReport(r);
    const [size, latency] = charts(page, 'scatter');
    expect(page).toContain('The search&#39;s front for objective latency');
    expect(page).toContain('The line joins the front of these two figures (the objective is latency)');
    const vertices = (svg: string) => /points="([^"]+)"/.exec(svg)![1]!.split(' ').length;
    expect(vertices(latency!)).toBe(search.front.length); // the report's front, whatever its objective
    // the size plot's own front: nothing smaller is at least as accurate (the fixture's front is that)
    expect(vertices(size!)).toBe(search.front.length);
  });
});

describe('a measured search report (edgefit search on mlp-gemm, 256 images, 30 evaluations)', () => {
  const measured = load<SearchReport>('search-measured.json');
  const html = renderReport(measured);

  it('renders: whole-model settings in one table, a plot point per candidate, no histograms section', () => {
    const ids = new Set([...measured.candidates, ...measured.front, measured.chosen].map((c) => c.id));
    const [size] = charts(html, 'scatter');
    expect(charts(html, 'scatter')).toHaveLength(1); // no latency measured
    expect(marks(size!, /<circle class="pt /g)).toBe(ids.size + 1);
    const whole = measured.sensitivity.filter((s) => s.layer === '(all)').length;
    expect(whole).toBe(3);
    expect(html).toContain(`whole model: ${whole} changes × 1 setting</h3>`);
    expect(html.match(/<td class="c" data-v=/g)).toHaveLength(measured.sensitivity.length);
    expect(html).not.toContain('id="histograms"');
    expect(html).toContain(`Chosen: ${measured.chosen.label}`);
  });
});

describe('transform page', () => {
  const html = renderReport(quantize);

  it('sizes before/after as a table and bars, kernels, mixed precision sensitivity', () => {
    expect(html).toContain('<h1>edgefit quantize · test/fixtures/models/mlp-gemm.onnx</h1>');
    expect(html).toContain('2.86× smaller');
    const [sizes, kernels, sens] = charts(html, 'bars');
    expect(marks(sizes!, /<rect class="bar s[01]"/g)).toBe(6);
    expect(marks(kernels!, /<rect class="bar s0"/g)).toBe(Object.keys(quantize.kernels as object).length);
    expect(marks(sens!, /<rect class="bar s0"/g)).toBe(3);
    expect(sens).toContain('/net/net.3/Gemm: 0.10 pt\nGemm, SQNR 53.57 dB, kept float');
    expect(html).toContain('the quantized model is not faster here');
  });

  it('passes with fidelity, an Infinity SQNR, and unknown extras shown as JSON', () => {
    const r = {
      ...quantize,
      passes: [
        {
          name: 'fold-batchnorm',
          changed: true,
          stats: { folded: 3 },
          ms: 1.5,
          fidelity: { maxRelError: 0, sqnr: 'Infinity', agreement: 1 },
        },
        { name: 'dead-code', changed: false, stats: { nodes: 0 }, ms: 0.2 },
      ],
      curve: [
        { step: 0, loss: 2.3 },
        { step: 10, loss: 1.1 },
        { step: 20, loss: 0.7 },
      ],
      shrink: { width: 0.5 },
    };
    const page = renderReport(r);
    expect(page).toContain('Passes (1 of 2 changed the model)');
    expect(page).toContain('∞ dB');
    expect(page).toContain('folded 3');
    const [curve] = charts(page, 'scatter');
    expect(marks(curve!, /<circle class="pt /g)).toBe(3);
    expect(page).toContain('&quot;shrink&quot;: {');
  });

  it('a wrong object is an EdgefitError, not a broken page', () => {
    expect(() => renderReport({ ...quantize, before: undefined }, 'x.json')).toThrow(EdgefitError);
    expect(() => renderReport({ ...quantize, before: undefined }, 'x.json')).toThrow(
      /^x\.json: before is missing/,
    );
  });
});
