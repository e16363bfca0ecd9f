// The step graph: forward + loss + backward + optimizer as ONE ONNX model whose trained tensors and
// optimizer state are inputs and outputs (TRAINING.md). An inference session runs it; each step's
// outputs are the next step's inputs.
//
// Rules:
//  1. Trained: the float initializers on the path to the logits, except the slots below (BN statistics,
//     Clip bounds, exponents, quantization parameters) and scalars; plus integer weights read by one
//     DequantizeLinear, trained as float weights through a QuantizeLinear on the same grid
//     (train/quantized.ts: straight-through, quantized back on export, so the encoding is kept).
//     Codebooks (Gather data) are trained with their indices fixed.
//  2. A trained weight of rank ≥ 2 with at least 1% exact zeros is a pruned weight: its mask (w ≠ 0)
//     multiplies the gradient, so zeros stay zero. On an integer grid, rounding alone zeroes a few
//     percent of a dense weight (11% of vgg-cnn's first FC at int8), which must stay trainable: there
//     it takes 4x more zeros than weights one step from zero (±1 on the grid: 0.4x to 2.4x as many
//     as zeros in the dense int8 fixtures; pruning leaves almost none, its kept weights are large). A
//     codebook's exact 0 centroid (cluster-weights keeps one for pruned weights) is masked the same
//     way: the pruned weights stay exactly 0.
//  3. The batch size is fixed (static shapes everywhere); the opset is raised to 16 when no op of the
//     model changed meaning in between (ScatterElements with reduction for MaxPool and codebooks).
//  4. Frozen batch statistics: BatchNormalization stays in inference mode.

import { inferShapes } from '../analysis/shape-inference.js';
import { EdgefitError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import { cloneModel } from '../ir/clone.js';
import type { Model, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { DataType } from '../onnx/dtype.js';
import { raiseOpset } from '../passes/quantize/opset.js';
import { constantOf } from '../passes/util.js';
import { buildBackward } from './autodiff.js';
import { GradContext } from './context.js';
import { appendLoss, type LossOptions } from './loss.js';
import { appendUpdate, type OptimizerOptions, scalarInputs } from './optimizer.js';
import { dequantizeValues, gridOf, type QuantGrid, unitSteps } from './quantized.js';

/** Input slots that hold no trainable parameter (rule 1). */
const FROZEN_SLOTS: Record<string, number[]> = {
  BatchNormalization: [3, 4],
  Clip: [1, 2],
  Pow: [1],
  DequantizeLinear: [1, 2],
  QuantizeLinear: [1, 2],
  Pad: [2],
};

export interface TrainedTensor {
  /** the initializer's name in the original model */
  name: string;
  dims: number[];
  /** the step graph's input for it, and its output: the updated value (or the gradient, with `gradients`) */
  input: string;
  output: string;
  /** the integer grid of a weight trained as float and quantized back on export (train/quantized.ts) */
  grid?: QuantGrid;
  /** elements kept at zero (pruned), when masked */
  masked?: number;
}

export interface StepGraph {
  model: Model;
  trained: TrainedTensor[];
  /** starting values of the trained inputs, by input name */
  initial: Map<string, Float32Array>;
  /** optimizer state: input -> output names, zeros at the start */
  states: { input: string; output: string; dims: number[] }[];
  /** the model's data inputs, with their fixed shapes */
  dataInputs: { name: string; dims: number[]; dtype: number }[];
  labels?: string;
  teacher?: string;
  scalars: string[];
  loss: string;
  logits: string;
  batch: number;
}

export interface StepGraphOptions {
  batch: number;
  loss: LossOptions;
  optimizer: OptimizerOptions;
  /** the logits output (default: the first output) */
  output?: string;
  /** initializers left untouched, by name */
  freeze?: (name: string) => boolean;
  /** keep pruned zeros at zero (rule 2; default true) */
  keepMasks?: boolean;
  /** the NCHWc block size when the graph will get blocked convolutions (train/nchwc.ts) */
  block?: number | undefined;
  /** output each trained tensor's gradient instead of its update (no optimizer; for checking) */
  gradients?: boolean;
}

/** The fixed shapes of the data inputs at batch `batch` (rule 3). */
export function dataShapes(model: Model, batch: number): { name: string; dims: number[]; dtype: number }[] {
  return model.graph.inputs
    .filter((v) => !v.initializer)
    .map((v) => {
      const shape = v.type?.shape;
      const dims = shape?.map((d, i) => (i === 0 ? batch : d));
      if (!dims?.every((d) => typeof d === 'number'))
        throw new EdgefitError(
          'UNSUPPORTED',
          `input ${v.name} has shape [${shape?.join(',') ?? '?'}]: fine-tuning needs every dim but the batch fixed`,
          'fix the other dims with --shape NAME=D1,D2,...',
        );
      return { name: v.name, dims: dims as number[], dtype: v.type!.elemType };
    });
}

/** Values from which `target` is reachable. */
function ancestors(target: Value): Set<Value> {
  const seen = new Set<Value>([target]);
  const stack = [target];
  while (stack.length) {
    const v = stack.pop()!;
    for (const i of v.producer?.inputs ?? [])
      if (i && !seen.has(i)) {
        seen.add(i);
        stack.push(i);
      }
  }
  return seen;
}

/** Read only as a Gather's data, directly or flattened by a Reshape (a codebook, rule 2). */
function isCodebook(v: Value): boolean {
  const gatherData = (w: Value) =>
    w.uses.every((u) => u.node.domain === '' && u.node.opType === 'Gather' && u.index === 0);
  return (
    v.uses.length > 0 &&
    v.uses.every(
      (u) =>
        u.node.domain === '' &&
        u.index === 0 &&
        (u.node.opType === 'Gather' || (u.node.opType === 'Reshape' && gatherData(u.node.outputs[0]!))),
    )
  );
}

function isFrozenSlot(v: Value): boolean {
  return v.uses.every((u) => u.node.domain === '' && FROZEN_SLOTS[u.node.opType]?.includes(u.index));
}

/** Build the step graph of `source` (see the header); `source` is not modified. */
export function buildStepGraph(source: Model, options: StepGraphOptions): StepGraph {
  const model = cloneModel(source);
  raiseOpset(model, 16); // rule 3; left as it is when an op changed meaning
  const g = model.graph;
  const b = new GraphBuilder(g);
  const dataInputs = dataShapes(model, options.batch);
  for (const d of dataInputs)
    g.inputs.find((v) => v.name === d.name)!.setType({ elemType: d.dtype, shape: d.dims });
  const logits = options.output ? g.outputs.find((v) => v.name === options.output) : g.outputs[0];
  if (!logits)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      `the model has no output ${options.output}`,
      'name one of its outputs',
    );
  g.outputs.length = 0;
  g.outputs.push(logits);

  // rule 1: what is trained
  const onPath = ancestors(logits);
  const frozen = options.freeze ?? (() => false);
  const trained: TrainedTensor[] = [];
  const initial = new Map<string, Float32Array>();
  const wrt: Value[] = [];
  const masks = new Map<Value, Value>();
  for (const v of [...g.initializers]) {
    const t = v.initializer!;
    if (!onPath.has(v) || frozen(v.name) || t.size <= 1 || isFrozenSlot(v)) continue;
    const dims = [...t.dims];
    if (t.dtype === DataType.FLOAT) {
      const values = t.toFloat32();
      g.removeInitializer(v);
      v.setType({ elemType: DataType.FLOAT, shape: dims });
      g.inputs.push(v);
      trained.push({ name: v.name, dims, input: v.name, output: '' });
      wrt.push(v);
      initial.set(v.name, Float32Array.from(values));
    } else {
      // an integer weight read by one DequantizeLinear: trained as float through QuantizeLinear
      const dq = v.uses.length === 1 && v.uses[0]!.index === 0 ? v.uses[0]!.node : undefined;
      if (dq?.opType !== 'DequantizeLinear' || (model.opset('') ?? 1) < 13) continue;
      const grid = gridOf(t, dq, constantOf(dq.inputs[1]), constantOf(dq.inputs[2]));
      if (!grid) continue;
      const latent = b.input(`${v.name}.float`, { elemType: DataType.FLOAT, shape: dims });
      const zp =
        dq.inputs[2] ??
        b.weight(
          'zp',
          Tensor.fromTyped(
            'zp',
            t.dtype,
            [],
            t.dtype === DataType.INT8 ? new Int8Array(1) : new Uint8Array(1),
          ),
        );
      const axis: Record<string, number> = grid.axis === undefined ? {} : { axis: grid.axis };
      const q = b.node('QuantizeLinear', [latent, dq.inputs[1], zp], axis, { at: 0 });
      v.replaceAllUsesWith(q.outputs[0]!);
      g.removeInitializer(v);
      trained.push({ name: v.name, dims, input: latent.name, output: '', grid });
      wrt.push(latent);
      initial.set(latent.name, dequantizeValues(t, grid));
    }
  }
  if (!wrt.length)
    throw new EdgefitError(
      'UNSUPPORTED',
      'the model has no float weights on the path to its output to fine-tune',
    );

  // rule 2
  if (options.keepMasks !== false)
    for (const [k, v] of wrt.entries()) {
      const dims = trained[k]!.dims;
      const values = initial.get(v.name)!;
      let zeros = 0;
      for (const x of values) if (x === 0) zeros++;
      const grid = trained[k]!.grid;
      const pruned =
        dims.length >= 2 && zeros >= 0.01 * values.length && (!grid || zeros > 4 * unitSteps(values, grid));
      if (!pruned && !(zeros && isCodebook(v))) continue;
      const mask = Float32Array.from(values, (x) => (x === 0 ? 0 : 1));
      masks.set(v, b.weight(`${v.name}.mask`, Tensor.fromFloat32('mask', dims, mask)));
      trained[k]!.masked = zeros;
    }

  const shapes = Object.fromEntries(dataInputs.map((d) => [d.name, d.dims]));
  const types = inferShapes(model, { inputShapes: shapes }).types;
  const ctx = new GradContext(b, types, new Map(), () => false);
  const head = appendLoss(ctx, logits, options.loss);
  const { grads } = buildBackward(model, {
    seeds: new Map([[logits, head.dlogits]]),
    wrt,
    inputShapes: shapes,
    block: options.block,
  });

  const scalars = options.gradients ? {} : scalarInputs(ctx, options.optimizer);
  const states: StepGraph['states'] = [];
  const outputs: Value[] = [head.loss, logits];
  for (const [k, w] of wrt.entries()) {
    const grad = grads.get(w);
    const t = trained[k]!;
    if (!grad) throw new Error(`no gradient reached ${t.name}`);
    if (options.gradients) {
      const out = b.op('Identity', [grad], {}, { name: `${t.input}.grad` });
      t.output = out.name;
      outputs.push(out);
      continue;
    }
    const upd = appendUpdate(ctx, options.optimizer, scalars, w, t.dims, grad, masks.get(w));
    const next = b.op('Identity', [upd.next], {}, { name: `${t.input}.next` });
    t.output = next.name;
    outputs.push(next);
    for (const s of upd.states) {
      const out = b.op('Identity', [s.output], {}, { name: `${s.input.name}.next` });
      states.push({ input: s.input.name, output: out.name, dims: t.dims });
      outputs.push(out);
    }
  }
  g.outputs.length = 0;
  g.outputs.push(...outputs);
  return {
    model,
    trained,
    initial,
    states,
    dataInputs,
    ...(head.labels ? { labels: head.labels.name } : {}),
    ...(head.teacher ? { teacher: head.teacher.name } : {}),
    scalars: Object.keys(scalars),
    loss: head.loss.name,
    logits: logits.name,
    batch: options.batch,
  };
}
