// edgefit eval MODEL --data D [--reference REF]
import type { Command } from 'commander';
import { syntheticDataset } from '../../data/dataset.js';
import { EdgefitError } from '../../errors.js';
import { openDataset } from '../../node/data-files.js';
import { loadModel } from '../../node/model-io.js';
import { evaluate } from '../../pipeline/evaluate.js';
import { textTable } from '../../report/text-table.js';
import { nodeRuntime } from '../../runtime/node.js';
import type { Runtime } from '../../runtime/types.js';
import { addDataFlags, dataOptions, positiveInt } from '../data-flags.js';
import { progressBar } from '../progress.js';
import { parseShapes, printJson, runCommand } from '../shell.js';

export async function pickRuntime(name: string | undefined): Promise<Runtime> {
  if (!name || name === 'node') return nodeRuntime;
  if (name === 'web') {
    // onnxruntime-web reads a string as a URL: hand it the file's bytes
    const web = (await import('../../runtime/web.js')).webRuntime;
    const { readFileSync } = await import('node:fs');
    return {
      name: 'web',
      createSession: (model, options) =>
        web.createSession(typeof model === 'string' ? new Uint8Array(readFileSync(model)) : model, options),
    };
  }
  throw new EdgefitError('BAD_ARGUMENT', `--runtime must be node or web, not "${name}"`);
}

export function fmtPct(x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`;
}

export function fmtDb(x: number | undefined): string {
  return x === undefined ? '-' : x === Number.POSITIVE_INFINITY ? 'inf' : `${x.toFixed(2)} dB`;
}

export function registerEval(program: Command): void {
  addDataFlags(
    program
      .command('eval')
      .description('accuracy on labelled data; fidelity against a reference model')
      .argument('<model>', 'ONNX model')
      .option(
        '--data <path>',
        'data: .npz, .npy, IDX file or image folder (default: synthetic inputs, needs --reference)',
      )
      .option('--reference <model>', 'reference model: report agreement, cosine, SQNR per output')
      .option('--batch-size <n>', 'samples per run', '64')
      .option('--threads <n>', 'intra-op threads', '1')
      .option('--samples <n>', 'synthetic samples when no --data is given', '64')
      .option('--seed <n>', 'seed for synthetic inputs', '0')
      .option('--shape <name=dims...>', 'fix dynamic input dims (repeatable)')
      .option('--runtime <node|web>', 'onnxruntime-node or onnxruntime-web (wasm)', 'node')
      .option('--json', 'print one JSON object'),
  ).action(
    (modelPath: string, o: Record<string, string | undefined> & { json?: boolean; shape?: string[] }) =>
      runCommand(async () => {
        const model = loadModel(modelPath);
        if (o.reference) loadModel(o.reference); // a broken reference is a clear error up front
        const data = o.data
          ? await openDataset(model, o.data, dataOptions(o))
          : o.reference
            ? syntheticDataset(model, {
                samples: positiveInt(o.samples, '--samples')!,
                seed: Number(o.seed ?? 0),
                shapes: parseShapes(o.shape),
              })
            : (() => {
                throw new EdgefitError(
                  'BAD_ARGUMENT',
                  'eval needs --data (or --reference to compare on synthetic inputs)',
                  'pass --data FILE',
                );
              })();
        const bar = progressBar('eval');
        const result = await evaluate(await pickRuntime(o.runtime), modelPath, data, {
          reference: o.reference,
          batchSize: positiveInt(o.batchSize, '--batch-size'),
          threads: positiveInt(o.threads, '--threads'),
          onProgress: bar,
        });
        bar.finish();
        if (o.json) return printJson({ model: modelPath, data: data.source, ...result });
        const rows: (string | number)[][] = [['samples', result.samples]];
        if (result.top1 !== undefined)
          rows.push(['top-1', fmtPct(result.top1)], ['top-5', fmtPct(result.top5)]);
        for (const [name, f] of Object.entries(result.fidelity ?? {}))
          rows.push(
            [`${name}: agreement`, fmtPct(f.agreement)],
            [`${name}: cosine`, f.cosine.toFixed(6)],
            [`${name}: SQNR`, fmtDb(f.sqnr)],
            [`${name}: max abs error`, f.maxAbsError.toExponential(3)],
          );
        process.stdout.write(`${modelPath} on ${data.source}\n${textTable(['metric', 'value'], rows)}\n`);
      }),
  );
}
