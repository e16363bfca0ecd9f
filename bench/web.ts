// The browser app's figures (issue 13), in headless chromium through web/harness.ts:
//  - the build: time, each JS file raw and gzip (level 9), the app's JS total without ORT's wasm,
//    and the wasm assets beside it;
//  - a non-ONNX file: the error line the page shows;
//  - static int8 of the bundled model with its 1k slice in the page: time, the downloaded file's top-1
//    with onnxruntime-node against the original's, byte-identity with the core over bytes on
//    onnxruntime-web under Node and with the CLI's file (onnxruntime-node calibrates it: how many float
//    scale values differ, by how much), the page's brotli size against node:zlib's;
//  - the search flow with a small budget: time, evaluations, the chart drawn (screenshot path);
//  - fine-tuning 30 steps: time, first and last loss of the live curve;
//  - a 100 MB model (25 MatMul 1024×1024 float weights, generated here): pick → inspect table time,
//    and the longest main-thread task (PerformanceObserver longtask) and rAF gap meanwhile (goal
//    < 200 ms);
//  - cancel: a long fine-tuning cancelled mid-run, time until the page is ready again;
//  - requests outside the app's origin (goal 0).
// Run: npx tsx bench/web.ts

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bindArrays, DataType, decodeModel, decodeNpz, encodeModel, quantize, Tensor } from '../src/index.js';
import { GraphBuilder, newModel } from '../src/ir/builder.js';
import { evaluate, transportSizes } from '../src/node.js';
import { webRuntime } from '../src/runtime/web.js';
import { buildApp, download, launch, mainThread, openApp, pickFile, serve } from '../web/harness.js';

const ROOT = join(import.meta.dirname, '..');
const MODEL = join(ROOT, 'examples', 'fashion-mnist.onnx');
const DATA = join(ROOT, 'examples', 'fashion-mnist-1k.npz');
const SHOTS = join(ROOT, 'tmp', 'web-screenshots');
const dir = mkdtempSync(join(tmpdir(), 'edgefit-bench-web-'));
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(2)} s`;

function bigModel(path: string): number {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const n = 1024;
  let x = b.input('x', { elemType: DataType.FLOAT, shape: ['batch', n] });
  for (let l = 0; l < 25; l++) {
    const w = new Float32Array(n * n);
    for (let i = 0; i < w.length; i++) w[i] = (((i * 2654435761 + l) >>> 0) % 2001) / 1e6 - 0.001;
    x = b.op('MatMul', [x, b.weight(`w${l}`, Tensor.fromFloat32(`w${l}`, [n, n], w))]);
    if (l < 24) x = b.op('Relu', [x]);
  }
  b.output(x);
  const bytes = encodeModel(m);
  writeFileSync(path, bytes);
  return bytes.length;
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  let t0 = performance.now();
  const dist = join(dir, 'dist');
  await buildApp(dist);
  console.log(`build: ${secs(t0)}`);
  let jsGzip = 0;
  for (const f of readdirSync(join(dist, 'assets')).sort()) {
    const b = readFileSync(join(dist, 'assets', f));
    const gz = gzipSync(b, { level: 9 }).length;
    if (/\.(m?js)$/.test(f)) jsGzip += gz;
    if (/\.(m?js|wasm|css)$/.test(f)) console.log(`  ${f}: ${kib(b.length)} raw, ${kib(gz)} gzip`);
  }
  console.log(`app JavaScript without the onnxruntime wasm: ${kib(jsGzip)} gzip (goal < 300 KiB)`);

  const server = await serve(dist);
  const browser = await launch();
  const app = await openApp(browser, server.base);
  const { page } = app;
  console.log(`page: ${await page.textContent('#threads')}`);
  const waitDone = (timeout = 240_000) =>
    page.waitForFunction(
      "!document.getElementById('results').hidden || !document.getElementById('error').hidden",
      undefined,
      { timeout },
    );
  const run = async (command: string, fields: Record<string, string>) => {
    await page.selectOption('#command', command);
    for (const [k, v] of Object.entries(fields)) await page.fill(`#opt-${k}`, v);
    const t = performance.now();
    await page.click('#run');
    await waitDone();
    if (await page.isVisible('#error')) throw new Error(`${command}: ${await page.textContent('#error')}`);
    return t;
  };

  await pickFile(page, '#model-file', 'notes.onnx', Buffer.from('not a model\n'.repeat(50)));
  await page.waitForSelector('#error:not([hidden])');
  console.log(`non-ONNX file: the page shows "${await page.textContent('#error')}"`);

  // static int8 in the page
  await page.click('#example');
  await page.waitForSelector('#layers tbody tr');
  await page.click('#example-data');
  await page.waitForFunction("document.getElementById('data-status').textContent.includes('1000 samples')");
  await page.selectOption('#command', 'quantize');
  await page.selectOption('#opt-mode', 'static');
  t0 = await run('quantize', {});
  console.log(`static int8 in the page (calibration, guard, latency, top-1 and agreement): ${secs(t0)}`);
  const got = await download(page, '#download-model');
  const file = join(dir, got.name);
  writeFileSync(file, got.bytes);
  const before = (await evaluate(MODEL, { data: DATA })).top1!;
  const after = (await evaluate(file, { data: DATA })).top1!;
  console.log(
    `  top-1 on the 1k slice (onnxruntime-node): original ${(100 * before).toFixed(2)}%, downloaded ${(100 * after).toFixed(2)}% (${(100 * (after - before)).toFixed(2)} pt; goal within 0.5)`,
  );
  const bytes = new Uint8Array(readFileSync(MODEL));
  const calib = bindArrays(decodeModel(bytes), decodeNpz(new Uint8Array(readFileSync(DATA)), DATA), DATA);
  const core = (await quantize(bytes, { mode: 'static' }, { runtime: webRuntime, calib })) as {
    bytes: Uint8Array;
  };
  console.log(
    `  vs the core over bytes, onnxruntime-web under Node: ${Buffer.compare(Buffer.from(core.bytes), got.bytes) === 0 ? 'byte-identical' : 'DIFFERENT'} (${got.bytes.length} bytes)`,
  );
  // the CLI itself (npx tsx src/cli/main.ts quantize MODEL -o OUT --mode static --calib SLICE [...])
  const runCli = (out: string, ...extra: string[]) => {
    const main = [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/main.ts')];
    const args = ['quantize', MODEL, '-o', out, '--mode', 'static', '--calib', DATA, ...extra];
    execFileSync(process.execPath, [...main, ...args], { stdio: 'pipe' });
    return readFileSync(out);
  };
  const cliBytes = runCli(join(dir, 'cli.onnx'));
  // the CLI with the browser's runtime: the page's file, byte for byte
  const cliWebOut = join(dir, 'cli-web.onnx');
  runCli(cliWebOut, '--runtime', 'web');
  console.log(
    `  vs the CLI with --runtime web (npx tsx src/cli/main.ts quantize MODEL -o OUT --mode static --calib SLICE --runtime web): ${Buffer.compare(readFileSync(cliWebOut), got.bytes) === 0 ? 'byte-identical' : 'DIFFERENT'}`,
  );
  let differing = 0;
  for (let i = 0; i < Math.min(cliBytes.length, got.bytes.length); i++)
    if (cliBytes[i] !== got.bytes[i]) differing++;
  const cli = decodeModel(new Uint8Array(cliBytes));
  const web = decodeModel(new Uint8Array(got.bytes));
  const cliInit = new Map(cli.graph.initializers.map((v) => [v.name, v.initializer!.toNumbers()]));
  let tensors = 0;
  let values = 0;
  let intDiffs = 0;
  let maxRel = 0;
  for (const v of web.graph.initializers) {
    const a = cliInit.get(v.name)!;
    const b = v.initializer!.toNumbers();
    let d = false;
    for (let i = 0; i < a.length; i++)
      if (a[i] !== b[i]) {
        d = true;
        values++;
        if (v.initializer!.dtype !== DataType.FLOAT) intDiffs++;
        else maxRel = Math.max(maxRel, Math.abs(Number(a[i]) - Number(b[i])) / Math.abs(Number(a[i])));
      }
    if (d) tensors++;
  }
  console.log(
    `  vs the CLI (npx tsx src/cli/main.ts quantize MODEL -o OUT --mode static --calib SLICE; onnxruntime-node calibrates): ${cliBytes.length === got.bytes.length ? 'same length' : 'other length'}, ${differing} bytes differ; ${tensors}/${web.graph.initializers.length} initializers differ (${values} values, ${intDiffs} of them integer), max relative float difference ${maxRel.toExponential(2)}`,
  );
  const report = JSON.parse((await download(page, '#download-report')).bytes.toString('utf8'));
  const zlib = transportSizes(got.bytes);
  console.log(
    `  brotli of the result: page (brotli-wasm q9) ${report.after.brotliBytes} B, node:zlib q9 ${zlib.brotliBytes} B`,
  );
  console.log(`  the page's table: ${(await page.textContent('#result-table'))?.replace(/\s+/g, ' ')}`);

  // search
  t0 = await run('search', { maxDrop: '1', maxEvaluations: '6', timeBudget: '2' });
  const search = JSON.parse((await download(page, '#download-report')).bytes.toString('utf8'));
  const frame = page.frameLocator('#report-frame');
  const charts = await frame.locator('svg.scatter').count();
  const points = await frame.locator('svg.scatter circle.pt').count();
  await page.screenshot({ path: join(SHOTS, 'bench-search.png'), fullPage: true });
  console.log(
    `search (max-drop 1 pt, 6 evaluations): ${secs(t0)}; ${search.evaluations.total} evaluations (${search.evaluations.cached} cached), chosen "${search.chosen.label}" top-1 ${(100 * search.chosen.metrics.accuracy).toFixed(2)}%, ${search.front.length} on the front; ${charts} scatter charts with ${points} points (screenshot ${join('tmp', 'web-screenshots', 'bench-search.png')})`,
  );

  // fine-tuning
  t0 = await run('finetune', { steps: '30', batchSize: '32', lr: '0.0001' });
  const ft = JSON.parse((await download(page, '#download-report')).bytes.toString('utf8'));
  console.log(
    `finetune (30 steps of 32, AdamW 1e-4): ${secs(t0)}; ${ft.training.stepMs} ms/step; loss ${ft.curve[0]?.loss} → ${ft.curve.at(-1)?.loss}; top-1 ${(100 * ft.accuracy.before).toFixed(2)}% → ${(100 * ft.accuracy.after).toFixed(2)}%; live curve drawn: ${(await page.locator('#loss-curve polyline').count()) === 1}`,
  );

  // cancel
  await page.selectOption('#command', 'finetune');
  await page.fill('#opt-steps', '100000');
  await page.click('#run');
  await page.waitForFunction(
    "/finetune \\d+\\/100000/.test(document.getElementById('progress-label').textContent)",
  );
  t0 = performance.now();
  await page.click('#cancel');
  await page.waitForFunction("document.getElementById('status').textContent === 'ready'");
  console.log(
    `cancel mid fine-tuning: the page is ready again (worker restarted, model reloaded) in ${secs(t0)}`,
  );

  // a 100 MB model
  const big = join(dir, 'matmul-chain-100mb.onnx');
  const size = bigModel(big);
  await mainThread(page, true);
  t0 = performance.now();
  await page.setInputFiles('#model-file', big);
  await page.waitForFunction("document.querySelectorAll('#layers tbody tr').length === 49", undefined, {
    timeout: 120_000,
  });
  const ms = await mainThread(page);
  console.log(
    `100 MB model (${(size / 1e6).toFixed(1)} MB, 25 MatMul 1024x1024): picked → inspect table in ${secs(t0)}; ${(await page.textContent('#inspect h3'))?.trim()}`,
  );
  console.log(
    `  main thread meanwhile: longest task ${ms.longestTaskMs.toFixed(0)} ms (${ms.longTasks} tasks over 50 ms; 0 = none), longest gap between animation frames ${ms.frameGapMs.toFixed(0)} ms (goal < 200 ms)`,
  );

  const outside = app.requests.filter((u) => !u.startsWith(`${server.base}/`) && !u.startsWith('blob:'));
  console.log(
    `requests outside the app's origin: ${outside.length + app.blocked.length} (of ${app.requests.length}); page errors: ${app.errors.length}`,
  );
  await app.close();
  await browser.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
