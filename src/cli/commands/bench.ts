// edgefit bench MODEL [--threads 1] [--batch 1] [--runs 100] [--warmup 10] [--profile]
import { type BenchJson, bench, benchOptions, textTable } from '../../node.js';
import { modelCommand } from '../define.js';
import { fmtMs, formatBytes } from '../format.js';

function renderProfile(p: NonNullable<BenchJson['profile']>): string {
  const kernels = textTable(
    ['kernel', 'nodes', 'µs/run', 'share'],
    p.byOpType.map((k) => [k.kernel, k.nodes, k.us.toFixed(1), `${(100 * k.share).toFixed(1)}%`]),
  );
  const nodes = textTable(
    ['node', 'kernel', 'µs/run', 'input types'],
    p.byNode.slice(0, 40).map((n) => [n.node, n.kernel, n.us.toFixed(1), n.inputTypes.join(',')]),
  );
  return `\nby kernel (what ONNX Runtime ran after its fusions)\n${kernels}\n\nby node\n${nodes}\n`;
}

function renderBench(r: BenchJson): string {
  const head = `${r.model}  (batch ${r.batch}, ${r.threads} thread${r.threads > 1 ? 's' : ''}, ${r.latencyMs.runs} runs)\n`;
  const table = textTable(
    ['metric', 'value'],
    [
      ['latency median', fmtMs(r.latencyMs.median)],
      ['latency p90', fmtMs(r.latencyMs.p90)],
      ['latency min', fmtMs(r.latencyMs.min)],
      ['throughput', `${r.throughput.toFixed(1)} samples/s`],
      ['file', formatBytes(r.bytes)],
      ['gzip', formatBytes(r.gzipBytes)],
      ['brotli', formatBytes(r.brotliBytes)],
      ['weights', formatBytes(r.weightBytes)],
    ],
  );
  return `${head}${table}\n${r.profile ? renderProfile(r.profile) : ''}`;
}

export const benchCommand = modelCommand('bench', benchOptions, bench, renderBench);
