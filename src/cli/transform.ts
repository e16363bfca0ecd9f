// What every transform command shares (slim, optimize, quantize, prune, ...): check paths, load and
// verify, run the recipe under the numerical guard, save atomically, report the transform fields.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { Dataset } from '../data/dataset.js';
import { synthesizeInputs } from '../data/synthetic.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { modelCounts } from '../ir/stats.js';
import { assertValid } from '../ir/verify.js';
import { loadModel, saveModel } from '../node/model-io.js';
import { transportSizes } from '../node/sizes.js';
import { type PassRecord, runPasses, summarizeHistory } from '../pipeline/pass-manager.js';
import { type RecipeStep, recipeToJson } from '../pipeline/recipe.js';
import { nodeRuntime } from '../runtime/node.js';
import { parseShapes, printJson } from './shell.js';

export interface TransformFlags {
  output?: string;
  force?: boolean;
  json?: boolean;
  printRecipe?: boolean;
  externalData?: boolean;
  seed?: string;
  shape?: string[];
  guard?: boolean;
}

export function addTransformFlags(cmd: Command): Command {
  return cmd
    .option('-o, --output <path>', 'where to write the result (never the input)')
    .option('--force', 'overwrite an existing output file')
    .option('--external-data', 'write weights to external data beside the output (PATH.data)')
    .option('--print-recipe', 'print the recipe this command would run (YAML) and exit')
    .option('--no-guard', 'skip the numerical guard (running original and result on samples)')
    .option('--shape <name=dims...>', 'fix dynamic input dims for the guard samples (repeatable)')
    .option('--seed <n>', 'seed for every random choice', '0')
    .option('--json', 'print one JSON object');
}

export interface SideCounts {
  bytes: number;
  brotliBytes: number;
  params: number;
  weightBytes: number;
  nodes: number;
  opTypes: Record<string, number>;
}

/** The external data files a model refers to, as paths beside it. */
function externalFiles(model: Model, path: string): string[] {
  const out = new Set<string>();
  for (const g of model.graph.allGraphs())
    for (const v of g.initializers) {
      const loc = v.initializer!.external?.location;
      if (loc) out.add(join(dirname(resolve(path)), loc));
    }
  return [...out];
}

function concatFiles(files: string[]): Uint8Array {
  return new Uint8Array(Buffer.concat(files.map((f) => readFileSync(f))));
}

/**
 * What a model costs on disk: its file plus any external data files it refers to. The transport
 * size (brotli) covers both, up to 256 MiB (compressing more would dominate the run time).
 */
function sideCounts(model: Model, path: string): SideCounts {
  const c = modelCounts(model);
  const files = [path, ...externalFiles(model, path)];
  const total = files.reduce((s, f) => s + statSync(f).size, 0);
  const bytes = total <= 256 * 1024 * 1024 ? concatFiles(files) : new Uint8Array(readFileSync(path));
  const sizes = { ...transportSizes(bytes), bytes: total };
  return {
    bytes: sizes.bytes,
    brotliBytes: sizes.brotliBytes,
    params: c.params,
    weightBytes: c.weightBytes,
    nodes: c.nodes,
    opTypes: c.opTypes,
  };
}

export interface TransformReport {
  input: string;
  output: string;
  before: SideCounts;
  after: SideCounts;
  passes: PassRecord[];
}

function checkOutput(input: string, flags: TransformFlags): string {
  if (!flags.output) throw new EdgefitError('BAD_ARGUMENT', 'no output path', 'pass -o OUT.onnx');
  if (resolve(flags.output) === resolve(input))
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'the output path is the input file',
      'edgefit never overwrites its input; choose another -o',
    );
  if (existsSync(flags.output) && !flags.force)
    throw new EdgefitError('IO', `${flags.output} already exists`, 'choose another -o or pass --force');
  return flags.output;
}

export async function runTransform(
  input: string,
  steps: RecipeStep[],
  flags: TransformFlags,
  extra: {
    fixedPoint?: boolean;
    after?: (m: Model) => void;
    calibration?: Dataset | undefined;
    /** make the result some other way than running `steps` (e.g. a search) */
    produce?: (m: Model) => Promise<Model>;
  } = {},
): Promise<TransformReport | undefined> {
  if (flags.printRecipe) {
    process.stdout.write(stringify(recipeToJson(steps)));
    return undefined;
  }
  const output = checkOutput(input, flags);
  const model = loadModel(input);
  assertValid(model);
  const before = sideCounts(model, input);
  const seed = Number(flags.seed ?? 0);
  const guardFeeds =
    flags.guard === false
      ? []
      : [
          synthesizeInputs(model, { shapes: parseShapes(flags.shape), seed, batch: 1 }),
          synthesizeInputs(model, { shapes: parseShapes(flags.shape), seed: seed + 1, batch: 1 }),
        ];
  const { model: result, history } = extra.produce
    ? { model: await extra.produce(model), history: [] }
    : await runPasses(model, steps, {
        runtime: nodeRuntime,
        guardFeeds,
        seed,
        fixedPoint: extra.fixedPoint,
        calibration: extra.calibration,
        log: { info: () => {}, warn: (m) => process.stderr.write(`edgefit: warning: ${m}\n`) },
      });
  extra.after?.(result);
  const saved = saveModel(result, output, {
    force: flags.force,
    externalData: flags.externalData ? true : 'auto',
  });
  return {
    input,
    output,
    before,
    // re-read lazily (external data stays on disk) so external files are counted as written
    after: sideCounts(loadModel(saved.path), saved.path),
    passes: summarizeHistory(history),
  };
}

export function printTransform(report: TransformReport, json: boolean | undefined, extraText = ''): void {
  if (json) {
    printJson(report);
    return;
  }
  const { before: b, after: a } = report;
  const lines = [
    `${report.input} -> ${report.output}`,
    `  file    ${b.bytes} -> ${a.bytes} bytes (${((100 * a.bytes) / b.bytes).toFixed(1)}%)`,
    `  brotli  ${b.brotliBytes} -> ${a.brotliBytes} bytes`,
    `  params  ${b.params} -> ${a.params}`,
    `  nodes   ${b.nodes} -> ${a.nodes}`,
  ];
  for (const p of report.passes)
    if (p.changed || p.rolledBack)
      lines.push(
        `  ${p.name}: ${
          p.rolledBack
            ? 'rolled back'
            : Object.entries(p.stats)
                .filter(([, v]) => v)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
        }`,
      );
  process.stdout.write(`${lines.join('\n')}\n${extraText}`);
}
