// The browser app end to end in headless chromium (Debian's /usr/bin/chromium driven by
// playwright-core; web/harness.ts): the app is built with Vite into a temp folder, served from
// 127.0.0.1 with COOP/COEP, and opened once; every request outside the app's origin is aborted and
// recorded. Without chromium the test fails with the install command: it never skips.
//  1. A file that is not ONNX shows the core's BAD_MODEL line and its fix in the page.
//     A model with external data loads with its data file dropped beside it (one line when it is not).
//  2. The bundled model and its 1k calibration slice, static int8 in the page, the result downloaded:
//     onnxruntime-node runs it within 0.5 pt top-1 of the original on the slice; it is byte-identical
//     to the CLI's with --runtime web (the same runtime calibrates);
//     to the core's quantize over bytes with onnxruntime-web under Node (the same engine, the same
//     options); against the CLI's file (onnxruntime-node calibrates it) every integer tensor and the
//     graph are identical and only float scales differ, by ulps (two runtimes' float sums).
//  3. The search flow with a small budget finishes and shows the Pareto chart (screenshot saved).
//  4. Fine-tuning a few steps draws the live loss curve and returns a model; Cancel stops a long one
//     and the page is ready again (a fresh worker, the model reloaded).
//  5. An image folder (PNGs of the slice, one folder per class) is data with labels for top-1.
//  6. Nothing left the machine: no request outside the app's origin.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindArrays, decodeModel, decodeNpz, modelCounts, quantize } from '../../src/index.js';
import { evaluate, loadModel, quantize as quantizeFile, saveModel } from '../../src/node.js';
import { webRuntime } from '../../src/runtime/web.js';
import {
  buildApp,
  download,
  launch,
  type Opened,
  openApp,
  pickFile,
  type Served,
  serve,
} from '../../web/harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MODEL = join(ROOT, 'examples', 'fashion-mnist.onnx');
const DATA = join(ROOT, 'examples', 'fashion-mnist-1k.npz');
const SHOTS = join(ROOT, 'tmp', 'web-screenshots');
const dir = mkdtempSync(join(tmpdir(), 'edgefit-web-'));

let server: Served;
let browser: Browser;
let app: Opened;

beforeAll(async () => {
  await buildApp(join(dir, 'dist'));
  server = await serve(join(dir, 'dist'));
  browser = await launch();
  app = await openApp(browser, server.base);
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await app?.close();
  await browser?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run the selected command and wait for its results (or fail with the page's error). */
async function runAndWait(timeout: number) {
  const { page } = app;
  await page.click('#run');
  await page.waitForFunction(
    "!document.getElementById('results').hidden || !document.getElementById('error').hidden",
    undefined,
    { timeout },
  );
  if (await page.isVisible('#error')) throw new Error(`the page shows: ${await page.textContent('#error')}`);
}

/** Pick a command, fill its generated form fields (by option key), run, wait. */
async function runCommand(command: string, fields: Record<string, string>) {
  await app.page.selectOption('#command', command);
  for (const [key, value] of Object.entries(fields)) await app.page.fill(`#opt-${key}`, value);
  await runAndWait(90_000);
}

async function downloadedReport() {
  return JSON.parse((await download(app.page, '#download-report')).bytes.toString('utf8'));
}

async function loadExample() {
  const { page } = app;
  await page.click('#example');
  await page.waitForSelector('#layers tbody tr');
  await page.click('#example-data');
  await page.waitForFunction("document.getElementById('data-status').textContent.includes('1000 samples')");
}

describe('the browser app in headless chromium', () => {
  it('a file that is not ONNX shows a clear error, not a blank page', async () => {
    const { page } = app;
    await pickFile(page, '#model-file', 'notes.onnx', Buffer.from('not a model at all\n'.repeat(40)));
    await page.waitForSelector('#error:not([hidden])');
    const text = await page.textContent('#error');
    expect(text).toContain('BAD_MODEL');
    expect(text).toContain('not a valid ONNX model');
    expect(text).toContain('Fix:');
    expect(await page.locator('#layers').count()).toBe(0);
  }, 15_000);

  it('a model with external data loads when its data file is dropped with it, and says which file is missing', async () => {
    const { page } = app;
    const ext = join(dir, 'ext');
    mkdirSync(ext);
    const saved = saveModel(loadModel(MODEL), join(ext, 'fm.onnx'), { externalData: true });
    expect(saved.dataBytes).toBeGreaterThan(250_000);
    await page.setInputFiles('#model-file', [join(ext, 'fm.onnx')]);
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).toContain(
      `EXTERNAL_DATA the model keeps weights in ${basename(saved.dataPath!)}`,
    );
    await page.setInputFiles('#model-file', [join(ext, 'fm.onnx'), saved.dataPath!]);
    await page.waitForSelector('#layers tbody tr');
    expect(await page.locator('#layers tbody tr').count()).toBe(21);
    const params = modelCounts(loadModel(MODEL)).params; // every weight read from the data file
    expect(await page.textContent('#inspect .cards')).toContain(`${(params / 1000).toFixed(1)} k`);
  }, 15_000);

  it('static int8 of the bundled model in the page: accurate, byte-identical to the core and to the CLI with --runtime web', async () => {
    const { page } = app;
    await loadExample();
    expect(await page.locator('#layers tbody tr').count()).toBe(21);
    await page.selectOption('#opt-mode', 'static');
    await runAndWait(60_000);
    const got = await download(page, '#download-model');
    expect(got.name).toBe('fashion-mnist.quantize.onnx');
    const file = join(dir, got.name);
    // the downloaded file, run by onnxruntime-node on the 1k slice
    writeFileSync(file, got.bytes);
    const before = (await evaluate(MODEL, { data: DATA })).top1!;
    const after = (await evaluate(file, { data: DATA })).top1!;
    expect(before).toBeCloseTo(0.932, 3);
    expect(Math.abs(before - after)).toBeLessThanOrEqual(0.005);

    // the core over bytes with onnxruntime-web under Node, the same options: the same bytes
    const bytes = new Uint8Array(readFileSync(MODEL));
    const calib = bindArrays(decodeModel(bytes), decodeNpz(new Uint8Array(readFileSync(DATA)), DATA), DATA);
    const core = (await quantize(bytes, { mode: 'static' }, { runtime: webRuntime, calib })) as {
      bytes: Uint8Array;
    };
    expect(Buffer.compare(Buffer.from(core.bytes), got.bytes)).toBe(0);

    // the CLI's library call with the browser's runtime (--runtime web): the same bytes
    const cliWebOut = join(dir, 'cli-web.onnx');
    await quantizeFile(MODEL, { output: cliWebOut, mode: 'static', calib: DATA, runtime: 'web' });
    expect(Buffer.compare(readFileSync(cliWebOut), got.bytes)).toBe(0);

    // the CLI (onnxruntime-node calibrates): the same graph and integer tensors, scales within ulps
    // (edgefit/node's quantize: the CLI's own library call, byte-identical to the CLI; bench/web.ts
    // runs the CLI itself)
    const cliOut = join(dir, 'cli.onnx');
    await quantizeFile(MODEL, { output: cliOut, mode: 'static', calib: DATA });
    const cli = decodeModel(new Uint8Array(readFileSync(cliOut)));
    const web = decodeModel(new Uint8Array(got.bytes));
    expect(web.graph.nodes.map((n) => n.opType)).toEqual(cli.graph.nodes.map((n) => n.opType));
    const cliInit = new Map(cli.graph.initializers.map((v) => [v.name, v.initializer!]));
    let floatDiffs = 0;
    let maxRel = 0;
    for (const v of web.graph.initializers) {
      const a = cliInit.get(v.name)!.toNumbers();
      const b = v.initializer!.toNumbers();
      expect(b.length).toBe(a.length);
      if (v.initializer!.dtype !== 1) {
        expect(b, v.name).toEqual(a); // int8 weights, zero points, int32 biases
        continue;
      }
      for (let i = 0; i < a.length; i++)
        if (a[i] !== b[i]) {
          floatDiffs++;
          maxRel = Math.max(maxRel, Math.abs(Number(a[i]) - Number(b[i])) / Math.abs(Number(a[i])));
        }
    }
    expect(maxRel).toBeLessThan(1e-5);
    expect(cli.graph.initializers.length).toBe(web.graph.initializers.length);
    console.log(
      `web vs CLI: ${floatDiffs} float scale values differ, max relative ${maxRel.toExponential(2)}`,
    );

    // the page's own figures: top-1 before/after as onnxruntime-node measured, and the recipe
    const table = await page.textContent('#result-table');
    expect(table).toContain(`${(100 * before).toFixed(2)}%`);
    expect(table).toContain(`${(100 * after).toFixed(2)}%`);
    const recipe = (await download(page, '#download-recipe')).bytes.toString('utf8');
    expect(recipe).toContain('pass: quantize-static-int8');
    const report = await downloadedReport();
    expect(report.command).toBe('quantize');
    expect(report.after.bytes).toBe(got.bytes.length);
  }, 90_000);

  it('the search flow with a small budget finishes and shows the Pareto chart', async () => {
    const { page } = app;
    await runCommand('search', { maxDrop: '1', maxEvaluations: '4', timeBudget: '1' });
    const frame = page.frameLocator('#report-frame');
    await frame.locator('svg.scatter').first().waitFor();
    expect(await frame.locator('svg.scatter').count()).toBeGreaterThanOrEqual(1);
    expect(await frame.locator('svg.scatter circle.pt').count()).toBeGreaterThanOrEqual(3);
    expect(await frame.locator('svg.scatter circle.pt-chosen').count()).toBeGreaterThanOrEqual(1);
    const report = await downloadedReport();
    expect(report.command).toBe('search');
    expect(report.chosen.metrics.accuracy).toBeGreaterThan(0.92);
    expect(report.chosen.metrics.dropPt).toBeLessThanOrEqual(1);
    await page.screenshot({ path: join(SHOTS, 'search.png'), fullPage: true });
  }, 120_000);

  it('fine-tuning a few steps draws the live loss curve', async () => {
    const { page } = app;
    await runCommand('finetune', { steps: '12', batchSize: '32', lr: '0.0001' });
    expect(await page.locator('#loss-curve polyline').count()).toBe(1);
    const report = await downloadedReport();
    expect(report.command).toBe('finetune');
    expect(report.training.steps).toBe(12);
    expect(report.curve.length).toBeGreaterThan(0);
  }, 120_000);

  it('cancel stops a long fine-tuning mid-run and the page is ready again with the model', async () => {
    const { page } = app;
    await page.fill('#opt-steps', '100000');
    await page.click('#run');
    await page.waitForFunction(
      "/finetune \\d+\\/100000/.test(document.getElementById('progress-label').textContent)",
    );
    await page.click('#cancel');
    await page.waitForFunction("document.getElementById('status').textContent === 'ready'");
    expect(await page.locator('#layers tbody tr').count()).toBe(21);
    expect(await page.isVisible('#error')).toBe(false);
    expect(await page.isEnabled('#run')).toBe(true);
  }, 30_000);

  it('an image folder is data with labels: slim measures top-1 on it', async () => {
    const { page } = app;
    const folder = join(dir, 'images');
    const arrays = decodeNpz(new Uint8Array(readFileSync(DATA)), DATA);
    const x = arrays.get('input')!.data as Float32Array;
    const y = arrays.get('labels')!.data as BigInt64Array;
    for (let i = 0; i < 40; i++) {
      const px = Buffer.from(
        Array.from(x.subarray(i * 784, (i + 1) * 784), (v) => Math.round((v * 0.353 + 0.286) * 255)),
      );
      mkdirSync(join(folder, String(y[i])), { recursive: true });
      await sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(join(folder, String(y[i]), `${i}.png`));
    }
    await page.fill('#image-mean', '0.2860');
    await page.fill('#image-std', '0.3530');
    await page.setInputFiles('#image-folder', folder);
    await page.waitForFunction(
      "document.getElementById('data-status').textContent.includes('40 samples, with labels')",
    );
    await runCommand('slim', {});
    const top1 = /top-1 \(your data\)([\d.]+)%([\d.]+)%/.exec((await page.textContent('#result-table'))!);
    expect(Number(top1![1])).toBeGreaterThan(80); // the first 40 test images, as PNGs
    expect(top1![2]).toBe(top1![1]);
  }, 30_000);

  it('nothing left the machine: every request went to the app itself', async () => {
    expect(app.blocked).toEqual([]);
    const outside = app.requests.filter((u) => !u.startsWith(`${server.base}/`) && !u.startsWith('blob:'));
    expect(outside).toEqual([]);
    expect(server.served).toContain('/examples/fashion-mnist.onnx');
    expect(app.errors).toEqual([]);
  });
});
