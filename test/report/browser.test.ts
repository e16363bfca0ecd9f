// The HTML report in a real browser: Debian's chromium (/usr/bin/chromium, no browser download)
// driven by playwright-core opens the pages edgefit report wrote, served from a local server. No
// console error, no request but the page itself (every other request is routed, failed and
// recorded), the charts laid out with their data points, the table sorts, and a screenshot of each
// page is saved under tmp/report-screenshots/ (gitignored) to look at. Without chromium the test
// fails with the install command: it never skips.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report } from '../../src/node.js';
import type { SearchReport } from '../../src/report/schema.js';
import { launch } from '../../web/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(import.meta.dirname, 'fixtures');
const SHOTS = join(ROOT, 'tmp', 'report-screenshots');
const search = JSON.parse(readFileSync(join(FIX, 'search.json'), 'utf8')) as SearchReport;

const dir = mkdtempSync(join(tmpdir(), 'edgefit-browser-'));
const served: string[] = [];
let server: Server;
let base: string;
let browser: Browser;
const started = Date.now();

beforeAll(async () => {
  await report(join(FIX, 'search.json'), { output: join(dir, 'search.html') });
  await report(join(FIX, 'quantize.json'), { output: join(dir, 'quantize.html') });
  server = createServer((req, res) => {
    served.push(req.url ?? '');
    const name = /^\/(search|quantize)\.html$/.exec(req.url ?? '')?.[1];
    if (!name) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(readFileSync(join(dir, `${name}.html`)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launch(); // Debian's chromium, or an error with the install command
  mkdirSync(SHOTS, { recursive: true });
}, 15_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
  // the whole browser test, launch included, stays quick
  expect(Date.now() - started).toBeLessThan(20_000);
});

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
  blocked: string[];
}

/** Open a served page with every request but the page itself failed and recorded. */
async function open(name: string): Promise<Opened> {
  const url = `${base}/${name}`;
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    serviceWorkers: 'block',
  });
  const page = await context.newPage();
  const o: Opened = { page, errors: [], requests: [], blocked: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') o.errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => o.errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => o.requests.push(r.url()));
  await context.route('**/*', (route) => {
    if (route.request().url() === url) return route.continue();
    o.blocked.push(route.request().url());
    return route.abort();
  });
  served.length = 0;
  const response = await page.goto(url, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  return o;
}

describe('the HTML report in headless chromium', () => {
  it('search page: no errors, no requests, every chart drawn with its points, sortable table', async () => {
    const o = await open('search.html');
    const { page } = o;
    const points = new Set([...search.candidates, ...search.front, search.chosen].map((c) => c.id)).size + 1;

    // the Pareto plots: laid out, every point a circle inside its plot
    const plots = await page.$$eval('svg.scatter', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        const dots = Array.from(svg.querySelectorAll(':scope > circle.pt')).map((c) =>
          c.getBoundingClientRect(),
        );
        return {
          width: box.width,
          height: box.height,
          dots: dots.length,
          inside: dots.every(
            (d) =>
              d.width > 4 &&
              d.left >= box.left &&
              d.right <= box.right &&
              d.top >= box.top &&
              d.bottom <= box.bottom,
          ),
          ticks: svg.querySelectorAll('.x-axis .tick-label').length,
          chosen: svg.querySelector(':scope > circle.pt-chosen title')?.textContent ?? '',
        };
      }),
    );
    expect(plots).toHaveLength(2);
    for (const p of plots) {
      expect(p.dots).toBe(points);
      expect(p.inside).toBe(true);
      expect(p.width).toBeGreaterThan(400);
      expect(p.height).toBeGreaterThan(250);
      expect(p.ticks).toBeGreaterThanOrEqual(3);
      expect(p.chosen).toContain(search.chosen.label);
    }

    // histograms: 48 bins each, some of them tall; heat cells coloured
    const hists = await page.$$eval('svg.histogram', (svgs) =>
      svgs.map((s) =>
        Array.from(s.querySelectorAll(':scope > rect.bin')).map((r) => r.getBoundingClientRect().height),
      ),
    );
    expect(hists).toHaveLength(search.histograms.length);
    for (const h of hists) {
      expect(h).toHaveLength(48);
      expect(Math.max(...h)).toBeGreaterThan(50);
    }
    const heat = await page.$$eval('table.heat td.c span', (spans) =>
      spans.map((s) => getComputedStyle(s).backgroundColor),
    );
    expect(heat).toHaveLength(search.sensitivity.length);
    expect(heat.every((c) => c !== 'rgba(0, 0, 0, 0)')).toBe(true);

    // the candidates table sorts by brotli size on a click, and back on a second
    const table = page.locator('table.candidates');
    const brotli = async () =>
      table
        .locator('tbody tr td:nth-child(5)')
        .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-v'))));
    await table.locator('th', { hasText: 'brotli' }).click();
    const up = await brotli();
    expect(up).toHaveLength(points - 1);
    expect(up).toEqual([...up].sort((a, b) => a - b));
    await table.locator('th', { hasText: 'brotli' }).click();
    const down = await brotli();
    expect(down).toEqual([...up].reverse());

    // the escaped label shows as text, and nothing ran that should not
    expect(await page.locator('td', { hasText: '<&> "quoted"' }).count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'search.png'), fullPage: true });
    expect(o.errors).toEqual([]);
    expect(o.blocked).toEqual([]);
    expect(o.requests).toEqual([`${base}/search.html`]);
    expect(served).toEqual(['/search.html']);
    await page.context().close();
  }, 15_000);

  it('transform page: no errors, no requests, the bars drawn', async () => {
    const o = await open('quantize.html');
    const bars = await o.page.$$eval('svg.bars', (svgs) =>
      svgs.map((s) =>
        Array.from(s.querySelectorAll(':scope > rect.bar')).map((r) => r.getBoundingClientRect().width),
      ),
    );
    expect(bars.map((b) => b.length)).toEqual([6, 6, 3]);
    // file bytes before (919 KiB) and after (333 KiB): bar widths in that ratio
    expect(bars[0]![0]! / bars[0]![1]!).toBeCloseTo(941519 / 341052, 1);
    await o.page.screenshot({ path: join(SHOTS, 'quantize.png'), fullPage: true });
    expect(o.errors).toEqual([]);
    expect(o.blocked).toEqual([]);
    expect(o.requests).toEqual([`${base}/quantize.html`]);
    await o.page.context().close();
  }, 10_000);
});
