// bench stability: two `edgefit bench` runs of the same model, one after the other, must agree within
// 10% (median latency). Run: npx tsx bench/bench-stability.ts [model ...]
import { benchFile } from '../src/cli/commands/bench.js';

const models = process.argv.slice(2).length ? process.argv.slice(2) : ['examples/fashion-mnist.onnx'];
for (const m of models) {
  for (const batch of [1, 32]) {
    const a = await benchFile(m, { runs: 200, warmup: 20, batch });
    const b = await benchFile(m, { runs: 200, warmup: 20, batch });
    const diff =
      Math.abs(a.latencyMs.median - b.latencyMs.median) / Math.min(a.latencyMs.median, b.latencyMs.median);
    console.log(
      `${m} batch ${batch}: run 1 median ${a.latencyMs.median.toFixed(4)} ms (p90 ${a.latencyMs.p90.toFixed(4)}), run 2 median ${b.latencyMs.median.toFixed(4)} ms (p90 ${b.latencyMs.p90.toFixed(4)}); difference ${(100 * diff).toFixed(1)}% (goal < 10%)`,
    );
  }
}
