// Load + save of a ~500 MB float32 model: time and peak memory (goal: ≤ 2 s, peak RSS ≤ 1.5× the file).
// The model (30 × MatMul [2048,2048] with Relu between, 503 MB) is built here and saved once to a temp
// folder; the measurement runs in a fresh child process so that building it does not pollute the
// figures. A second child breaks the time down (read / decode / encode / write). Finally the saved file
// is compared byte for byte with the input, loaded back, and both files are run by ONNX Runtime
// (loaded from their paths) on one random input.
// Run: npx tsx bench/large-model.ts

import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeModel, encodeModelChunks } from '../src/ir/serialize.js';
import { Tensor } from '../src/ir/tensor.js';
import { Rng } from '../src/kernels/random.js';
import { FileExternalData, loadModel, readModelFile, saveModel } from '../src/node/model-io.js';
import * as measure from './measure.js';

const WIDTH = 2048;
const LAYERS = 30;
const MB = 1024 * 1024; // MiB
const RUNS = 3;

/** Child mode: load + save, nothing else. Prints one JSON line. */
function worker(input: string, output: string): void {
  const m: measure.LoadSaveMeasurement = measure.measureLoadSave(input, output, {});
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

/** Child mode: the same work split into its steps, to see where the time goes. */
function profile(input: string, output: string): void {
  const steps: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    steps[name] = now - t;
    t = now;
  };
  const bytes = readModelFile(input);
  lap('readFileSync');
  const model = decodeModel(bytes, { external: new FileExternalData(join(input, '..')) });
  lap('decode (protobuf-es fromBinary + IR)');
  const chunks = encodeModelChunks(model);
  lap('encode (protobuf-es toBinary of the non-initializer part + framing)');
  const fd = openSync(output, 'w');
  for (const c of chunks) {
    let done = 0;
    while (done < c.length) done += writeSync(fd, c, done, c.length - done);
  }
  closeSync(fd);
  lap('write (writeSync of the chunks)');
  process.stdout.write(`${JSON.stringify({ steps, chunks: chunks.length })}\n`);
}

function buildAndSave(path: string): void {
  const rng = new Rng(7);
  const a = Math.sqrt(6 / WIDTH); // He-uniform: activations stay O(1) through the chain
  const m = measure.matmulChain(WIDTH, LAYERS, (l) => {
    const w = new Float32Array(WIDTH * WIDTH);
    for (let i = 0; i < w.length; i++) w[i] = (rng.next() * 2 - 1) * a;
    return Tensor.fromFloat32(`w${l}`, [WIDTH, WIDTH], w);
  });
  saveModel(m, path, { externalData: false });
  // flush the 500 MB just written, so that writeback of the build does not slow the measured save
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-large-'));
  const input = join(dir, 'large.onnx');
  const output = join(dir, 'large-saved.onnx');
  try {
    const tb = performance.now();
    buildAndSave(input);
    const fileBytes = statSync(input).size;
    console.log(
      `built and saved the model in ${((performance.now() - tb) / 1000).toFixed(1)} s (not measured)`,
    );
    console.log(
      `file size: ${(fileBytes / 1e6).toFixed(1)} MB = ${(fileBytes / MB).toFixed(1)} MiB (${fileBytes} bytes, ${LAYERS} x MatMul [${WIDTH},${WIDTH}] float32)`,
    );

    // bare node (no tsx, no modules) for reference
    const bare = spawnSync(
      process.execPath,
      [
        '-e',
        "process.stdout.write(/^VmHWM:\\s+(\\d+)/m.exec(require('fs').readFileSync('/proc/self/status','utf8'))?.[1] ?? String(process.resourceUsage().maxRSS))",
      ],
      { encoding: 'utf8' },
    );
    console.log(
      `bare node process peak RSS (node -e, nothing loaded): ${(Number(bare.stdout) / 1024).toFixed(0)} MiB`,
    );

    // several fresh children: the first one after the build can pay for memory the VM has not backed yet
    const runs: measure.LoadSaveMeasurement[] = [];
    for (let i = 0; i < RUNS; i++) {
      rmSync(output, { force: true });
      const m = measure.runChild(import.meta.url, '--worker', input, output) as measure.LoadSaveMeasurement;
      runs.push(m);
      const total = (m.loadMs + m.saveMs) / 1000;
      console.log(
        `run ${i + 1}: load ${m.loadMs.toFixed(0)} ms, save ${m.saveMs.toFixed(0)} ms, total ${total.toFixed(2)} s, peak RSS ${(m.peakKiB / 1024).toFixed(0)} MiB`,
      );
    }
    const m = [...runs].sort((a, b) => a.loadMs + a.saveMs - (b.loadMs + b.saveMs))[Math.floor(RUNS / 2)]!;
    const worst = Math.max(...runs.map((r) => r.loadMs + r.saveMs)) / 1000;
    const peakKiB = Math.max(...runs.map((r) => r.peakKiB));
    const ratio = (peakKiB * 1024) / fileBytes;
    const totalS = (m.loadMs + m.saveMs) / 1000;
    console.log(`median of ${RUNS} fresh child processes:`);
    console.log(`load: ${m.loadMs.toFixed(0)} ms`);
    console.log(`save: ${m.saveMs.toFixed(0)} ms`);
    console.log(
      `total: ${totalS.toFixed(2)} s (goal ≤ 2 s: ${totalS <= 2 ? 'met' : 'MISSED'}; slowest run ${worst.toFixed(2)} s)`,
    );
    console.log(
      `node baseline before loading (node + tsx + edgefit modules): rss ${(m.baselineRssKiB / 1024).toFixed(0)} MiB, peak so far ${(m.baselinePeakKiB / 1024).toFixed(0)} MiB`,
    );
    console.log(
      `peak RSS: ${(peakKiB / 1024).toFixed(0)} MiB (highest of the runs, ${m.peakSource}, includes the baseline)`,
    );
    if (m.peakSource !== 'maxRSS')
      console.log(
        `  (process.resourceUsage().maxRSS: ${(m.baselineMaxRssKiB / 1024).toFixed(0)} MiB at child start, ${(m.maxRssKiB / 1024).toFixed(0)} MiB at the end; on Linux it also counts the parent's RSS at fork, so it is not used)`,
      );
    console.log(`peak RSS above baseline: ${((peakKiB - m.baselinePeakKiB) / 1024).toFixed(0)} MiB`);
    console.log(`ratio peak/filesize: ${ratio.toFixed(2)} (goal ≤ 1.5: ${ratio <= 1.5 ? 'met' : 'MISSED'})`);
    console.log(
      `ratio (peak - baseline)/filesize: ${(((peakKiB - m.baselinePeakKiB) * 1024) / fileBytes).toFixed(2)}`,
    );

    rmSync(output, { force: true });
    const p = measure.runChild(import.meta.url, '--profile', input, output) as {
      steps: Record<string, number>;
    };
    console.log('breakdown (separate child):');
    for (const [k, v] of Object.entries(p.steps)) console.log(`  ${k}: ${v.toFixed(0)} ms`);

    const identical = measure.filesIdentical(input, output);
    console.log(`saved file byte-for-byte identical to the input: ${identical}`);
    const reloaded = loadModel(output);
    const loads =
      reloaded.graph.initializers.length === LAYERS && reloaded.graph.nodes.length === 2 * LAYERS - 1;
    console.log(
      `saved file loads back (${reloaded.graph.initializers.length} initializers, ${reloaded.graph.nodes.length} nodes): ${loads}`,
    );

    const rng = new Rng(123);
    const x = Float32Array.from({ length: WIDTH }, () => rng.next() * 2 - 1);
    const a = (await measure.runOrt(input, x)).out;
    const b = (await measure.runOrt(output, x)).out;
    console.log(
      `ORT output [1,${a.length}], first values ${Array.from(a.subarray(0, 3), (v) => v.toFixed(4)).join(', ')}`,
    );
    console.log(`outputs identical: ${measure.sameBits(a, b)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === '--worker') worker(a1!, a2!);
else if (mode === '--profile') profile(a1!, a2!);
else await main();
