// edgefit compare REF CAND [--data D]: size, latency and accuracy (or fidelity) side by side.
import type { Command } from 'commander';
import { syntheticDataset } from '../../data/dataset.js';
import { openDataset } from '../../node/data-files.js';
import { loadModel } from '../../node/model-io.js';
import { evaluate } from '../../pipeline/evaluate.js';
import { textTable } from '../../report/text-table.js';
import { addDataFlags, dataOptions, positiveInt } from '../data-flags.js';
import { formatBytes, parseShapes, printJson, runCommand } from '../shell.js';
import { benchFile } from './bench.js';
import { fmtDb, fmtPct, pickRuntime } from './eval.js';

export function registerCompare(program: Command): void {
  addDataFlags(
    program
      .command('compare')
      .description('two models side by side: size, latency, accuracy or fidelity, and their ratios')
      .argument('<reference>', 'the original model')
      .argument('<candidate>', 'the transformed model')
      .option('--data <path>', 'data for accuracy (default: synthetic inputs, fidelity only)')
      .option('--threads <n>', 'intra-op threads', '1')
      .option('--batch <n>', 'batch size for latency', '1')
      .option('--runs <n>', 'timed runs', '50')
      .option('--samples <n>', 'synthetic samples when no --data is given', '64')
      .option('--shape <name=dims...>', 'fix dynamic input dims (repeatable)')
      .option('--runtime <node|web>', 'onnxruntime-node or onnxruntime-web (wasm)', 'node')
      .option('--json', 'print one JSON object'),
  ).action(
    (
      refPath: string,
      candPath: string,
      o: Record<string, string | undefined> & { json?: boolean; shape?: string[] },
    ) =>
      runCommand(async () => {
        const refModel = loadModel(refPath);
        loadModel(candPath);
        const shapes = parseShapes(o.shape);
        const runtime = await pickRuntime(o.runtime);
        const data = o.data
          ? await openDataset(refModel, o.data, dataOptions(o))
          : syntheticDataset(refModel, { samples: positiveInt(o.samples, '--samples')!, shapes });
        const benchOpts = {
          threads: positiveInt(o.threads, '--threads'),
          batch: positiveInt(o.batch, '--batch'),
          runs: positiveInt(o.runs, '--runs'),
          warmup: 5,
          shapes,
          runtime: o.runtime,
        };
        const [rb, cb] = [await benchFile(refPath, benchOpts), await benchFile(candPath, benchOpts)];
        const refEval = await evaluate(runtime, refPath, data);
        const candEval = await evaluate(runtime, candPath, data, { reference: refPath });
        const side = (b: typeof rb, e: typeof refEval) => ({
          bytes: b.bytes,
          gzipBytes: b.gzipBytes,
          brotliBytes: b.brotliBytes,
          latencyMs: b.latencyMs,
          ...(e.top1 !== undefined ? { top1: e.top1, top5: e.top5 } : {}),
        });
        const reference = side(rb, refEval);
        const candidate = {
          ...side(cb, candEval),
          agreement: candEval.agreement,
          cosine: candEval.cosine,
          sqnr: candEval.sqnr,
        };
        const ratios = {
          bytes: cb.bytes / rb.bytes,
          brotliBytes: cb.brotliBytes / rb.brotliBytes,
          latency: cb.latencyMs.median / rb.latencyMs.median,
          speedup: rb.latencyMs.median / cb.latencyMs.median,
          ...(refEval.top1 !== undefined && candEval.top1 !== undefined
            ? { top1Drop: refEval.top1 - candEval.top1 }
            : {}),
        };
        if (o.json)
          return printJson({
            reference: { model: refPath, ...reference },
            candidate: { model: candPath, ...candidate },
            ratios,
            data: data.source,
            samples: data.size,
          });
        const rows: (string | number)[][] = [
          ['file', formatBytes(rb.bytes), formatBytes(cb.bytes), `${ratios.bytes.toFixed(3)}x`],
          [
            'brotli',
            formatBytes(rb.brotliBytes),
            formatBytes(cb.brotliBytes),
            `${ratios.brotliBytes.toFixed(3)}x`,
          ],
          [
            'latency median',
            `${rb.latencyMs.median.toFixed(3)} ms`,
            `${cb.latencyMs.median.toFixed(3)} ms`,
            `${ratios.latency.toFixed(3)}x`,
          ],
        ];
        if (refEval.top1 !== undefined)
          rows.push([
            'top-1',
            fmtPct(refEval.top1),
            fmtPct(candEval.top1),
            `${(100 * (ratios.top1Drop ?? 0)).toFixed(2)} pt drop`,
          ]);
        rows.push(['agreement', '', fmtPct(candEval.agreement), ''], ['SQNR', '', fmtDb(candEval.sqnr), '']);
        process.stdout.write(
          `on ${data.source} (${data.size} samples)\n${textTable(['', 'reference', 'candidate', 'ratio'], rows)}\n`,
        );
      }),
  );
}
