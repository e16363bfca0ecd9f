// edgefit/node's library: one async function per command, taking the command's positional paths and
// an options object whose keys are the CLI flags in camelCase, resolving to exactly the object
// `--json` prints (docs/CLI.md "Library"). The CLI is a thin shell over these functions, so the same
// options give byte-identical files.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import type { FinetuneFlags } from '../commands/finetune.js';
import {
  type BenchJson,
  benchCore,
  type CompareJson,
  compareCore,
  type EvalJson,
  evaluateCore,
  type InspectJson,
  inspectCore,
} from '../commands/measure.js';
import {
  type BenchOptions,
  benchOptions,
  type CompareOptions,
  compareOptions,
  type dataShape,
  type EvalOptions,
  evalOptions,
  type InspectOptions,
  inspectOptions,
  type OptimizeOptions,
  optimizeOptions,
  slimOptions,
  type transformShape,
} from '../commands/options.js';
import { buildQuantize, quantizeOptions } from '../commands/quantize.js';
import { parseOptions } from '../commands/schema.js';
import { resolveInputValues, resolveShapes } from '../commands/shapes.js';
import {
  buildCluster,
  buildDecompose,
  buildPrune,
  clusterOptions,
  decomposeOptions,
  pruneOptions,
} from '../commands/techniques.js';
import { runTransformCommand } from '../commands/transform.js';
import { type Builder, buildOptimize, buildSlim, recipeReport } from '../commands/transforms.js';
import type { Dataset } from '../data/dataset.js';
import { EdgefitError } from '../errors.js';
import type { Model } from '../ir/graph.js';
import { assertValid } from '../ir/verify.js';
import type { Host } from '../pipeline/transform.js';
import type { RecipeReport, TransformReport } from '../report/schema.js';
import { nodeRuntime } from '../runtime/node.js';
import type { Runtime } from '../runtime/types.js';
import { type DataOptions, openDataset } from './data-files.js';
import { checkOutput, fileSink, fileSizes } from './files.js';
import { finetuneTransform } from './finetune.js';
import { loadModel } from './model-io.js';

/** How the CLI hooks in: warnings and progress as they happen (the library collects them in the result). */
export type Hooks = Partial<Omit<Host, 'runtime'>>;

function tempDir(): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), 'edgefit-'));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

function host(hooks: Hooks | undefined, runtime: Runtime = nodeRuntime): Host {
  return { runtime, tempDir, ...hooks };
}

/** onnxruntime-web reads a string as a URL: hand it the file's bytes. */
async function pickRuntime(name: 'node' | 'web'): Promise<Runtime> {
  if (name === 'node') return nodeRuntime;
  const web = (await import('../runtime/web.js')).webRuntime;
  return {
    name: 'web',
    createSession: (model, options) =>
      web.createSession(typeof model === 'string' ? new Uint8Array(readFileSync(model)) : model, options),
  };
}

type DataFlags = z.output<z.ZodObject<typeof dataShape>>;

function dataOptions(o: DataFlags): DataOptions {
  const out: DataOptions = { layout: o.layout };
  if (o.labels) out.labels = o.labels;
  if (o.scale !== undefined) out.scale = o.scale;
  if (o.mean) out.mean = o.mean;
  if (o.std) out.std = o.std;
  if (o.size) out.size = o.size;
  if (o.limit) out.limit = o.limit;
  return out;
}

function loadValid(path: string): Model {
  const model = loadModel(path);
  assertValid(model);
  return model;
}

export async function inspect(
  model: string,
  options: InspectOptions = {},
  hooks?: Hooks,
): Promise<InspectJson> {
  const o = parseOptions(inspectOptions, options, 'inspect');
  return inspectCore(model, loadValid(model), o, host(hooks));
}

export async function evaluate(model: string, options: EvalOptions = {}, hooks?: Hooks): Promise<EvalJson> {
  const o = parseOptions(evalOptions, options, 'eval');
  const m = loadValid(model);
  if (o.reference) loadModel(o.reference); // a broken reference is a clear error up front
  const data = o.data ? await openDataset(m, o.data, dataOptions(o)) : undefined;
  return evaluateCore(model, model, m, data, o, host(hooks, await pickRuntime(o.runtime)), o.reference);
}

export async function bench(model: string, options: BenchOptions = {}, hooks?: Hooks): Promise<BenchJson> {
  const o = parseOptions(benchOptions, options, 'bench');
  const m = loadValid(model);
  const dir = o.profile ? mkdtempSync(join(tmpdir(), 'edgefit-prof-')) : undefined;
  try {
    const runtime = await pickRuntime(o.runtime);
    return await benchCore(
      model,
      model,
      m,
      fileSizes(m, model),
      o,
      host(hooks, runtime),
      dir && join(dir, 'trace'),
    );
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

export async function compare(
  reference: string,
  candidate: string,
  options: CompareOptions = {},
  hooks?: Hooks,
): Promise<CompareJson> {
  const o = parseOptions(compareOptions, options, 'compare');
  const [rm, cm] = [loadValid(reference), loadValid(candidate)];
  resolveShapes(rm, o.shape);
  const data = o.data ? await openDataset(rm, o.data, dataOptions(o)) : undefined;
  const side = (name: string, model: Model) => ({ name, source: name, model, sizes: fileSizes(model, name) });
  return compareCore(
    side(reference, rm),
    side(candidate, cm),
    data,
    o,
    host(hooks, await pickRuntime(o.runtime)),
  );
}

type TransformFlags = z.output<z.ZodObject<typeof transformShape>> &
  Partial<DataFlags> &
  Partial<FinetuneFlags> & {
    calib?: string | undefined;
    data?: string | undefined;
  };

/** The shared body of every file transform: paths, data, the engine, the report. */
export async function transformFile<O extends TransformFlags>(
  input: string,
  o: O,
  build: Builder<O>,
  hooks: Hooks | undefined,
  extra: { recipeText?: string; recipeSource?: string } = {},
): Promise<TransformReport | RecipeReport> {
  if (o.printRecipe) {
    const cmd = build(o, { ...extra });
    return recipeReport(cmd.command, cmd.plan.steps);
  }
  const model = loadValid(input);
  checkOutput(input, model, o.output, {
    ...o,
    reads: [
      o.calib,
      o.data,
      o.labels,
      extra.recipeSource,
      o.train,
      o.trainLabels,
      o.val,
      o.valLabels,
      o.teacher,
    ],
  });
  const dopts = dataOptions({ layout: 'nchw', ...o } as DataFlags);
  const calibration: Dataset | undefined = o.calib ? await openDataset(model, o.calib, dopts) : undefined;
  const evalData: Dataset | undefined = o.data ? await openDataset(model, o.data, dopts) : undefined;
  const h = host(hooks, await pickRuntime(o.runtime));
  const cmd = build(o, { model, calibration, evalData, host: h, ...extra });
  cmd.plan.guard = o.guard;
  cmd.plan.seed = o.seed;
  cmd.plan.shapes = resolveShapes(model, o.shape);
  cmd.plan.inputs = resolveInputValues(model, o.input);
  // --finetune: the result is fine-tuned before the sink writes it (node/finetune.ts)
  const ft = await finetuneTransform(model, o, cmd, fileSink(input, model, o.output, o), h);
  return runTransformCommand(model, ft.cmd, ft.sink, h);
}

/** A file transform command of the library: options validated by `schema`, recipe by `build`. */
function fileTransform<S extends z.ZodObject>(schema: S, build: Builder<z.output<S>>, name: string) {
  return async (model: string, options: z.input<S>, hooks?: Hooks): Promise<TransformReport | RecipeReport> =>
    transformFile(model, parseOptions(schema, options, name) as z.output<S> & TransformFlags, build, hooks);
}

export const slim = fileTransform(slimOptions, buildSlim, 'slim');
export const quantize = fileTransform(quantizeOptions, buildQuantize, 'quantize');
export const prune = fileTransform(pruneOptions, buildPrune, 'prune');
export const cluster = fileTransform(clusterOptions, buildCluster, 'cluster');
export const decompose = fileTransform(decomposeOptions, buildDecompose, 'decompose');

export async function optimize(
  model: string,
  options: OptimizeOptions,
  hooks?: Hooks,
): Promise<TransformReport | RecipeReport> {
  const o = parseOptions(optimizeOptions, options, 'optimize');
  let text: string;
  try {
    text = readFileSync(o.recipe, 'utf8');
  } catch {
    throw new EdgefitError('IO', `cannot read recipe ${o.recipe}`, 'check the path');
  }
  return transformFile(model, o, buildOptimize, hooks, { recipeText: text, recipeSource: o.recipe });
}
