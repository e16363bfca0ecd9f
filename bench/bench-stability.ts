// bench stability: two benchmark runs of the same model (what `edgefit bench` measures: onnxruntime-node,
// one thread, seeded synthetic inputs), one after the other, must agree within 10% (median latency).
// Run: npx tsx bench/bench-stability.ts [model ...]
import { synthesizeInputs } from '../src/data/synthetic.js';
import { loadModel } from '../src/node/model-io.js';
import { benchmark } from '../src/pipeline/benchmark.js';
import { nodeRuntime } from '../src/runtime/node.js';

const models = process.argv.slice(2).length ? process.argv.slice(2) : ['examples/fashion-mnist.onnx'];
for (const m of models) {
  const model = loadModel(m);
  for (const batch of [1, 32]) {
    const feeds = synthesizeInputs(model, { batch, seed: 0 });
    const a = await benchmark(nodeRuntime, m, feeds, { runs: 200, warmup: 20 });
    const b = await benchmark(nodeRuntime, m, feeds, { runs: 200, warmup: 20 });
    const diff =
      Math.abs(a.latencyMs.median - b.latencyMs.median) / Math.min(a.latencyMs.median, b.latencyMs.median);
    console.log(
      `${m} batch ${batch}: run 1 median ${a.latencyMs.median.toFixed(4)} ms (p90 ${a.latencyMs.p90.toFixed(4)}), run 2 median ${b.latencyMs.median.toFixed(4)} ms (p90 ${b.latencyMs.p90.toFixed(4)}); difference ${(100 * diff).toFixed(1)}% (goal < 10%)`,
    );
  }
}
