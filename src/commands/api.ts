// The core library over bytes and in-memory models (no file system): the same commands as
// edgefit/node, for the browser app and any host that brings its own runtime. Options are the same
// objects (keys = CLI flags in camelCase); data comes as Dataset objects instead of paths, and each
// transform resolves to its report plus the result's bytes.

import type { z } from 'zod';
import type { Dataset } from '../data/dataset.js';
import { EdgefitError } from '../errors.js';
import { cloneModel } from '../ir/clone.js';
import type { Model } from '../ir/graph.js';
import { decodeModel, encodeModel } from '../ir/serialize.js';
import { assertValid } from '../ir/verify.js';
import type { Host } from '../pipeline/transform.js';
import type { RecipeReport, TransformReport } from '../report/schema.js';
import { type FinetuneFlags, withFinetune } from './finetune.js';
import { type EvalJson, evaluateCore, type InspectJson, inspectCore } from './measure.js';
import { evalOptions, inspectOptions, type SlimOptions, slimOptions } from './options.js';
import { buildQuantize, type QuantizeOptions, quantizeOptions } from './quantize.js';
import { parseOptions } from './schema.js';
import { resolveInputValues, resolveShapes } from './shapes.js';
import {
  buildCluster,
  buildDecompose,
  buildPrune,
  type ClusterOptions,
  clusterOptions,
  type DecomposeOptions,
  decomposeOptions,
  type PruneOptions,
  pruneOptions,
} from './techniques.js';
import { bytesSink, runTransformCommand, type Sizer } from './transform.js';
import { type Builder, buildSlim, recipeReport } from './transforms.js';

/** What the core needs from its host: a runtime, and optionally data, a sizer (brotli) and hooks. */
export interface CoreEnv extends Host {
  /** calibration data (static int8, GPTQ, SmoothQuant, Wanda) */
  calib?: Dataset;
  /** evaluation data (eval, --max-drop) */
  data?: Dataset;
  sizer?: Sizer;
  /** a name for the model in reports */
  name?: string;
  /** finetune: true on a transform: training data (labels for ce), validation data, a teacher */
  train?: Dataset;
  val?: Dataset;
  teacher?: Model;
}

export interface BytesResult {
  report: TransformReport;
  bytes: Uint8Array;
  model: Model;
}

type WithoutFiles<T> = Omit<
  T,
  | 'output'
  | 'force'
  | 'externalData'
  | 'calib'
  | 'data'
  | 'train'
  | 'trainLabels'
  | 'val'
  | 'valLabels'
  | 'teacher'
>;

function asModel(input: Uint8Array | Model): { model: Model; bytes: Uint8Array } {
  if (input instanceof Uint8Array) return { model: decodeModel(input), bytes: input };
  return { model: input, bytes: encodeModel(input) };
}

async function transformBytes<S extends z.ZodObject>(
  input: Uint8Array | Model,
  schema: S,
  options: object,
  build: Builder<z.output<S>>,
  env: CoreEnv,
): Promise<BytesResult | RecipeReport> {
  const o = parseOptions(schema, { output: 'model.out.onnx', ...options }, 'library') as z.output<S> & {
    finetune?: boolean;
    printRecipe: boolean;
    guard: boolean;
    seed: number;
    shape: string[];
    input: string[];
  };
  if (o.printRecipe) {
    const cmd = build(o, {});
    return recipeReport(cmd.command, cmd.plan.steps);
  }
  const { model, bytes } = asModel(input);
  assertValid(model);
  const cmd = build(o, { model, calibration: env.calib, evalData: env.data, host: env });
  cmd.plan.guard = o.guard;
  cmd.plan.seed = o.seed;
  cmd.plan.shapes = resolveShapes(model, o.shape);
  cmd.plan.inputs = resolveInputValues(model, o.input);
  const sink = bytesSink(env.name ?? 'model.onnx', model, bytes, env.sizer);
  // finetune: true — the result is trained before the sink takes it (commands/finetune.ts)
  const ft = o.finetune
    ? withFinetune(cmd, sink, { ...o, train: env.name ?? 'env.train' } as unknown as FinetuneFlags, {
        model: cloneModel(model), // the passes change `model`: the teacher and the reference
        train: needTrain(env),
        val: env.val,
        teacher: env.teacher,
        host: env,
      })
    : { cmd, sink };
  const report = await runTransformCommand(model, ft.cmd, ft.sink, env);
  return { report, bytes: sink.bytes!, model: decodeModel(sink.bytes!) };
}

function needTrain(env: CoreEnv): Dataset {
  if (!env.train)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'finetune: true needs training data',
      'pass env.train (a Dataset)',
    );
  return env.train;
}

/** The flags a transform takes in the core: no paths (data arrives in `env`). */
export type Core<T> = WithoutFiles<T>;

export const slimBytes = (input: Uint8Array | Model, options: Core<SlimOptions>, env: CoreEnv) =>
  transformBytes(input, slimOptions, options, buildSlim, env);
export const quantizeBytes = (input: Uint8Array | Model, options: Core<QuantizeOptions>, env: CoreEnv) =>
  transformBytes(input, quantizeOptions, options, buildQuantize, env);
export const pruneBytes = (input: Uint8Array | Model, options: Core<PruneOptions>, env: CoreEnv) =>
  transformBytes(input, pruneOptions, options, buildPrune, env);
export const clusterBytes = (input: Uint8Array | Model, options: Core<ClusterOptions>, env: CoreEnv) =>
  transformBytes(input, clusterOptions, options, buildCluster, env);
export const decomposeBytes = (input: Uint8Array | Model, options: Core<DecomposeOptions>, env: CoreEnv) =>
  transformBytes(input, decomposeOptions, options, buildDecompose, env);

export async function inspectBytes(
  input: Uint8Array | Model,
  options: z.input<typeof inspectOptions>,
  env: CoreEnv,
): Promise<InspectJson> {
  const { model } = asModel(input);
  assertValid(model);
  return inspectCore(env.name ?? 'model.onnx', model, parseOptions(inspectOptions, options, 'inspect'), env);
}

export async function evaluateBytes(
  input: Uint8Array | Model,
  options: Omit<z.input<typeof evalOptions>, 'data' | 'reference'>,
  env: CoreEnv & { reference?: Uint8Array },
): Promise<EvalJson> {
  const { model, bytes } = asModel(input);
  const o = parseOptions(evalOptions, options, 'eval');
  return evaluateCore(env.name ?? 'model.onnx', bytes, model, env.data, o, env, env.reference);
}
