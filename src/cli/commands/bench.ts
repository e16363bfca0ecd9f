// edgefit bench MODEL [--threads 1] [--batch 1] [--runs 100] [--warmup 10] [--profile]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { synthesizeInputs } from '../../data/synthetic.js';
import { modelCounts } from '../../ir/stats.js';
import { loadModel } from '../../node/model-io.js';
import { transportSizes } from '../../node/sizes.js';
import { type BenchResult, benchmark } from '../../pipeline/benchmark.js';
import { textTable } from '../../report/text-table.js';
import { positiveInt } from '../data-flags.js';
import { formatBytes, parseShapes, printJson, runCommand } from '../shell.js';
import { pickRuntime } from './eval.js';

export interface BenchReport extends BenchResult {
  model: string;
  bytes: number;
  gzipBytes: number;
  brotliBytes: number;
  weightBytes: number;
}

export async function benchFile(
  path: string,
  o: {
    threads?: number;
    batch?: number;
    runs?: number;
    warmup?: number;
    profile?: boolean;
    shapes?: Record<string, number[]>;
    runtime?: string;
  },
): Promise<BenchReport> {
  const model = loadModel(path);
  const feeds = synthesizeInputs(model, { shapes: o.shapes ?? {}, batch: o.batch ?? 1, seed: 0 });
  const dir = o.profile ? mkdtempSync(join(tmpdir(), 'edgefit-prof-')) : undefined;
  try {
    const r = await benchmark(await pickRuntime(o.runtime), path, feeds, {
      threads: o.threads ?? 1,
      runs: o.runs ?? 100,
      warmup: o.warmup ?? 10,
      profilePrefix: dir ? join(dir, 'trace') : undefined,
    });
    const sizes = transportSizes(new Uint8Array(readFileSync(path)));
    return { model: path, ...sizes, weightBytes: modelCounts(model).weightBytes, ...r };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('latency (median/p90/min), throughput and sizes (file, gzip, brotli)')
    .argument('<model>', 'ONNX model')
    .option('--threads <n>', 'intra-op threads', '1')
    .option('--batch <n>', 'batch size for the dynamic batch dim', '1')
    .option('--runs <n>', 'timed runs', '100')
    .option('--warmup <n>', 'untimed warm-up runs', '10')
    .option('--profile', 'per-node time and the kernel ONNX Runtime really ran (from its profiler)')
    .option('--shape <name=dims...>', 'fix dynamic input dims (repeatable)')
    .option('--runtime <node|web>', 'onnxruntime-node or onnxruntime-web (wasm)', 'node')
    .option('--json', 'print one JSON object')
    .action(
      (
        path: string,
        o: Record<string, string | undefined> & { json?: boolean; profile?: boolean; shape?: string[] },
      ) =>
        runCommand(async () => {
          const r = await benchFile(path, {
            threads: positiveInt(o.threads, '--threads'),
            batch: positiveInt(o.batch, '--batch'),
            runs: positiveInt(o.runs, '--runs'),
            warmup: o.warmup === '0' ? 0 : positiveInt(o.warmup, '--warmup'),
            profile: o.profile === true,
            shapes: parseShapes(o.shape),
            runtime: o.runtime,
          });
          if (o.json) return printJson(r);
          const ms = (x: number) => `${x.toFixed(3)} ms`;
          process.stdout.write(
            `${path}  (batch ${r.batch}, ${r.threads} thread${r.threads > 1 ? 's' : ''}, ${r.latencyMs.runs} runs)\n` +
              textTable(
                ['metric', 'value'],
                [
                  ['latency median', ms(r.latencyMs.median)],
                  ['latency p90', ms(r.latencyMs.p90)],
                  ['latency min', ms(r.latencyMs.min)],
                  ['throughput', `${r.throughput.toFixed(1)} samples/s`],
                  ['file', formatBytes(r.bytes)],
                  ['gzip', formatBytes(r.gzipBytes)],
                  ['brotli', formatBytes(r.brotliBytes)],
                  ['weights', formatBytes(r.weightBytes)],
                ],
              ) +
              '\n',
          );
          if (r.profile) {
            process.stdout.write(
              `\nby kernel (what ONNX Runtime ran after its fusions)\n${textTable(
                ['kernel', 'nodes', 'µs/run', 'share'],
                r.profile.byOpType.map((k) => [
                  k.kernel,
                  k.nodes,
                  k.us.toFixed(1),
                  `${(100 * k.share).toFixed(1)}%`,
                ]),
              )}\n\nby node\n${textTable(
                ['node', 'kernel', 'µs/run', 'input types'],
                r.profile.byNode
                  .slice(0, 40)
                  .map((n) => [n.node, n.kernel, n.us.toFixed(1), n.inputTypes.join(',')]),
              )}\n`,
            );
          }
        }),
    );
}
