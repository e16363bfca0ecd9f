// Every quantization mode on every ONNX backend test model ONNX Runtime runs (test/corpus/quantize-corpus.ts):
// prints the failures, the commonest reasons a mode declined, and per-mode counts.
// Run: npx tsx bench/quantize-corpus.ts
import { quantizeCorpus } from '../test/corpus/quantize-corpus.js';

const { models, counts, failures, reasons } = await quantizeCorpus();
for (const f of failures) console.log(f);
for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 12))
  console.log(`  declined ${n} x ${why}`);
console.log(`models ORT runs with their test inputs: ${models}`);
for (const [id, k] of counts)
  console.log(
    `${id}: changed ${k.changed}, declined cleanly ${k.declined}, crashed ${k.crashed}, output not runnable ${k.badOutput}`,
  );
