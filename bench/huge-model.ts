// A model past protobuf's 2 GB limit: 17 float32 MatMul weights of 128 MiB each (2.28 GB), Relu
// between, saved with external data. The weights are generated one at a time while saving (lazy
// tensors with deterministic cheap values), so no JS buffer ever holds more than one of them. A fresh
// child process then loads the model (external data stays on disk) and saves it to another folder
// with external data, streaming one tensor at a time; its peak RSS is compared with the model's size
// (goal < 1.5×). Both models are run by ONNX Runtime from their paths (external data resolved beside
// them) on one input and the outputs compared bit for bit. The temp folders are removed at the end.
// Run: npx tsx bench/huge-model.ts

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../src/ir/tensor.js';
import { Rng } from '../src/kernels/random.js';
import { saveModel } from '../src/node/model-io.js';
import { DataType } from '../src/onnx/dtype.js';
import * as measure from './measure.js';

const LAYERS = 17;
const NARROW = 4096;
const WIDE = 8192;
const MB = 1024 * 1024; // MiB

type Measurement = measure.LoadSaveMeasurement & { externalTensors: number };

/** Child mode: load (lazy) + save with external data, nothing else. Prints one JSON line. */
function worker(input: string, output: string): void {
  let externalTensors = 0;
  const m: Measurement = {
    ...measure.measureLoadSave(input, output, { externalData: true }, (model) => {
      externalTensors = model.graph.initializers.filter((v) => v.initializer!.isExternal).length;
    }),
    externalTensors,
  };
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

/** Weight l: [4096,8192] for even l, [8192,4096] for odd l; He-uniform values from a per-layer LCG. */
function generateWeight(l: number, rows: number, cols: number): Uint8Array {
  const w = new Float32Array(rows * cols);
  const scale = Math.sqrt(6 / rows) / 8388608;
  let s = Math.imul(l + 1, 0x9e3779b9) >>> 0;
  for (let i = 0; i < w.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    w[i] = ((s >>> 8) - 8388608) * scale;
  }
  return new Uint8Array(w.buffer);
}

function buildAndSave(path: string): { dataPath: string; dataBytes: number; bytes: number } {
  const m = measure.matmulChain(NARROW, LAYERS, (l) => {
    const [rows, cols] = l % 2 === 0 ? [NARROW, WIDE] : [WIDE, NARROW];
    const length = rows * cols * 4;
    // a lazy tensor: its bytes exist only while saveModel writes them
    return new Tensor(`w${l}`, DataType.FLOAT, [rows, cols], {
      kind: 'external',
      where: { location: '(generated)', offset: 0, length },
      load: () => generateWeight(l, rows, cols),
    });
  });
  const r = saveModel(m, path, { externalData: true });
  return { dataPath: r.dataPath!, dataBytes: r.dataBytes!, bytes: r.bytes };
}

async function main(): Promise<void> {
  const start = performance.now();
  const srcDir = mkdtempSync(join(tmpdir(), 'edgefit-huge-src-'));
  const dstDir = mkdtempSync(join(tmpdir(), 'edgefit-huge-dst-'));
  const input = join(srcDir, 'huge.onnx');
  const output = join(dstDir, 'huge.onnx');
  try {
    const tb = performance.now();
    const built = buildAndSave(input);
    const total = built.bytes + built.dataBytes;
    console.log(`generated and saved in ${((performance.now() - tb) / 1000).toFixed(1)} s (not measured)`);
    console.log(
      `model: ${LAYERS} x MatMul float32 [${NARROW},${WIDE}]/[${WIDE},${NARROW}], huge.onnx ${built.bytes} bytes + huge.onnx.data ${built.dataBytes} bytes = ${(total / 1e9).toFixed(2)} GB (${(total / MB).toFixed(0)} MiB)`,
    );

    const m = measure.runChild(import.meta.url, '--worker', input, output) as Measurement;
    const ratio = (m.peakKiB * 1024) / total;
    console.log(
      `fresh child: load ${m.loadMs.toFixed(0)} ms (${m.externalTensors} tensors left on disk), save ${m.saveMs.toFixed(0)} ms`,
    );
    console.log(
      `baseline RSS before loading (node + tsx + edgefit modules): ${(m.baselinePeakKiB / 1024).toFixed(0)} MiB`,
    );
    console.log(`peak RSS: ${(m.peakKiB / 1024).toFixed(0)} MiB (${m.peakSource}, includes the baseline)`);
    console.log(
      `peak RSS above baseline: ${((m.peakKiB - m.baselinePeakKiB) / 1024).toFixed(0)} MiB (largest tensor: ${(NARROW * WIDE * 4) / MB} MiB)`,
    );
    console.log(`ratio peak/model size: ${ratio.toFixed(3)} (goal < 1.5: ${ratio < 1.5 ? 'met' : 'MISSED'})`);

    const savedData = join(dstDir, 'huge.onnx.data');
    console.log(
      `saved: huge.onnx ${statSync(output).size} bytes + huge.onnx.data ${statSync(savedData).size} bytes`,
    );
    console.log(
      `saved model and data byte-for-byte identical to the input: ${measure.filesIdentical(input, output) && measure.filesIdentical(built.dataPath, savedData)}`,
    );

    const rng = new Rng(99);
    const x = Float32Array.from({ length: NARROW }, () => rng.next() * 2 - 1);
    const a = await measure.runOrt(input, x);
    console.log(
      `ORT on the generated model: ${(a.ms / 1000).toFixed(1)} s (session + run), output [1,${a.out.length}], first values ${Array.from(a.out.subarray(0, 3), (v) => v.toFixed(4)).join(', ')}`,
    );
    const b = await measure.runOrt(output, x);
    console.log(`ORT on the saved copy: ${(b.ms / 1000).toFixed(1)} s`);
    console.log(`outputs identical: ${measure.sameBits(a.out, b.out)}`);
  } finally {
    rmSync(srcDir, { recursive: true, force: true });
    rmSync(dstDir, { recursive: true, force: true });
    console.log(`temp folders removed; wall time ${((performance.now() - start) / 1000).toFixed(1)} s`);
  }
}

const [mode, a1, a2] = process.argv.slice(2);
if (mode === '--worker') worker(a1!, a2!);
else await main();
