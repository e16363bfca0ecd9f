// eval overhead: `evaluate` over the full 10k Fashion-MNIST test set (IDX, preprocessing flags) vs a
// bare onnxruntime-node loop over the same batches, side by side in one run. Goal: ratio <= 1.2.
// Run: npx tsx bench/eval-overhead.ts
import * as ort from 'onnxruntime-node';
import { loadModel } from '../src/node/model-io.js';
import { evaluate } from '../src/pipeline/evaluate.js';
import { nodeRuntime } from '../src/runtime/node.js';
import { fashionMnistTest } from './fashion-mnist.js';

const MODEL = 'examples/fashion-mnist.onnx';
const BATCH = 64;

async function edgefitEval(): Promise<{ ms: number; top1: number }> {
  const t0 = performance.now();
  const model = loadModel(MODEL);
  const data = await fashionMnistTest(model);
  const r = await evaluate(nodeRuntime, MODEL, data, { batchSize: BATCH });
  return { ms: performance.now() - t0, top1: r.top1! };
}

/** the same work with nothing but onnxruntime-node: same preprocessed batches, argmax, count */
async function bareLoop(): Promise<{ ms: number; top1: number }> {
  // the bare loop gets its preprocessed batches for free (built before its clock starts), while
  // edgefit's time includes reading and preprocessing the IDX files: the comparison is strict for edgefit
  const model = loadModel(MODEL);
  const data = await fashionMnistTest(model);
  const batches: { x: Float32Array; n: number; labels: Int32Array }[] = [];
  for (let s = 0; s < data.size; s += BATCH) {
    const e = Math.min(data.size, s + BATCH);
    batches.push({
      x: data.slice(s, e).input!.data as Float32Array,
      n: e - s,
      labels: data.labels!.subarray(s, e),
    });
  }
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(MODEL, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  let correct = 0;
  for (const b of batches) {
    const out = (await session.run({ input: new ort.Tensor('float32', b.x, [b.n, 1, 28, 28]) })).logits!
      .data as Float32Array;
    for (let i = 0; i < b.n; i++) {
      let best = 0;
      for (let j = 1; j < 10; j++) if (out[i * 10 + j]! > out[i * 10 + best]!) best = j;
      if (best === b.labels[i]) correct++;
    }
  }
  await session.release();
  return { ms: performance.now() - t0, top1: correct / data.size };
}

// warm both paths once (file cache, JIT), then alternate three times and take medians
await edgefitEval();
await bareLoop();
const e: number[] = [];
const b: number[] = [];
let top1 = [0, 0];
for (let i = 0; i < 3; i++) {
  const x = await edgefitEval();
  const y = await bareLoop();
  e.push(x.ms);
  b.push(y.ms);
  top1 = [x.top1, y.top1];
}
const med = (a: number[]) => [...a].sort((p, q) => p - q)[1]!;
console.log(
  `edgefit eval (reads + preprocesses IDX, 10000 images, batch ${BATCH}): ${e.map((x) => x.toFixed(0)).join(', ')} ms; median ${med(e).toFixed(0)} ms; top-1 ${(100 * top1[0]!).toFixed(2)}%`,
);
console.log(
  `bare onnxruntime-node loop (batches prepared beforehand):          ${b.map((x) => x.toFixed(0)).join(', ')} ms; median ${med(b).toFixed(0)} ms; top-1 ${(100 * top1[1]!).toFixed(2)}%`,
);
console.log(`ratio: ${(med(e) / med(b)).toFixed(3)} (goal <= 1.2)`);
