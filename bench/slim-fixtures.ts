// slim on the fixtures of the pass-engine issue: a PyTorch convnet exported with its BatchNorms, a
// TensorFlow/Paddle-style graph (Constant weights, shape chains, Dropout, Identity, a weight used
// twice) and an If whose branches hold weights. Prints op counts, output differences, latency and
// whether two runs give byte-identical files. Run: npx tsx bench/slim-fixtures.ts
import { decodeModel, encodeModel } from '../src/ir/serialize.js';
import { benchmark } from '../src/pipeline/benchmark.js';
import { nodeRuntime } from '../src/runtime/node.js';
import { slimFixture, slimModel } from '../test/corpus/slim-check.js';

for (const name of ['cnn-bn-train', 'tf-style', 'if-branches']) {
  const { bytes, slimBytes: out1, before, after, diff, feeds } = await slimFixture(name, 8);
  const out2 = encodeModel(await slimModel(decodeModel(bytes)));
  const gone = ['BatchNormalization', 'Identity', 'Dropout', 'Constant']
    .map((op) => `${op} ${before[op] ?? 0}->${after[op] ?? 0}`)
    .join(', ');
  console.log(
    `${name}: nodes ${Object.values(before).reduce((a, b) => a + b, 0)} -> ${Object.values(after).reduce((a, b) => a + b, 0)}; ${gone}`,
  );
  console.log(
    `  max relative output difference ${diff.maxRelError.toExponential(2)} (goal <= 1e-5); byte-identical on rerun: ${Buffer.from(out1).equals(Buffer.from(out2))}`,
  );
  if (name === 'cnn-bn-train') {
    const f = feeds[0]!;
    const lat = async (b: Uint8Array) => {
      const r = [];
      for (let i = 0; i < 3; i++)
        r.push((await benchmark(nodeRuntime, b, f, { runs: 200, warmup: 20 })).latencyMs.median);
      return r.sort((a, c) => a - c)[1]!;
    };
    const [a, b] = [await lat(bytes), await lat(out1)];
    console.log(
      `  ORT latency (batch 8, 1 thread, median of 3x200 runs): before ${a.toFixed(3)} ms, after ${b.toFixed(3)} ms (ratio ${(b / a).toFixed(3)}; goal: no worse)`,
    );
  }
}
