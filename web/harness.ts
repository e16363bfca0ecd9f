// What the browser test (test/web/app.test.ts) and bench/web.ts share: build the app with Vite into a
// folder, serve it from 127.0.0.1 with the COOP/COEP headers, drive Debian's chromium with
// playwright-core (no browser download), and open the app with every request recorded and every
// request outside the app's origin aborted. A long-task observer and a requestAnimationFrame gap
// probe are installed before the page's own scripts, so main-thread stalls are measured, not guessed.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';

export const WEB = import.meta.dirname;
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** Build the app into `outDir` (production build, as `npm run web:build` does). */
export async function buildApp(outDir: string): Promise<void> {
  await build({
    configFile: join(WEB, 'vite.config.ts'),
    build: { outDir, emptyOutDir: true },
    logLevel: 'error',
  });
}

export interface Served {
  base: string;
  /** every path asked for, in order */
  served: string[];
  close(): Promise<void>;
}

/** A static server for `dir` on 127.0.0.1, cross-origin isolated like the dev server. */
export async function serve(dir: string): Promise<Served> {
  const served: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    served.push(path);
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, served, close: () => new Promise((ok) => server.close(() => ok())) };
}

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `Debian's chromium is not installed (${CHROMIUM} is missing): apt-get install -y chromium (.ci/run does it)`,
    );
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

export interface Opened {
  page: Page;
  /** console errors and page errors */
  errors: string[];
  /** every request the page made */
  requests: string[];
  /** requests outside the app's origin (aborted) */
  blocked: string[];
  close(): Promise<void>;
}

/**
 * Installed before the app: the longest long task and the longest gap between animation frames. A
 * string, not a function: tsx's name helpers (__name) do not exist in the page.
 */
const PROBE = `(() => {
  const p = { longest: 0, tasks: 0, gap: 0, reset() { this.longest = 0; this.tasks = 0; this.gap = 0; } };
  window.__probe = p;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { p.tasks++; p.longest = Math.max(p.longest, e.duration); }
  }).observe({ type: 'longtask', buffered: true });
  let last = performance.now();
  const frame = (t) => { p.gap = Math.max(p.gap, t - last); last = t; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
})();`;

export async function openApp(browser: Browser, base: string): Promise<Opened> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    serviceWorkers: 'block',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const o: Opened = { page, errors: [], requests: [], blocked: [], close: () => context.close() };
  page.on('console', (m) => {
    if (m.type() === 'error') o.errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => o.errors.push(`pageerror: ${e.message}`));
  context.on('request', (r) => o.requests.push(r.url()));
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`) || url.startsWith('blob:') || url.startsWith('data:'))
      return route.continue();
    o.blocked.push(url);
    return route.abort();
  });
  await page.addInitScript({ content: PROBE });
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForFunction("document.getElementById('threads')?.textContent !== ''");
  return o;
}

/** The longest long task (ms), the count, and the longest gap between animation frames (ms). */
export async function mainThread(page: Page, reset = false) {
  const read = `(() => { const p = window.__probe; const o = { longestTaskMs: p.longest, longTasks: p.tasks, frameGapMs: p.gap }; if (${reset}) p.reset(); return o; })()`;
  return (await page.evaluate(read)) as { longestTaskMs: number; longTasks: number; frameGapMs: number };
}

/** Set a file input from bytes (what a user's pick or drop hands the page). */
export async function pickFile(page: Page, selector: string, name: string, buffer: Buffer) {
  await page.setInputFiles(selector, { name, mimeType: 'application/octet-stream', buffer });
}

/** Click a download link and read the file it hands over. */
export async function download(page: Page, selector: string): Promise<{ name: string; bytes: Buffer }> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const path = await d.path();
  return { name: d.suggestedFilename(), bytes: readFileSync(path) };
}
