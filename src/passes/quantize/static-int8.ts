// quantize-static-int8: QDQ int8 with calibrated activation ranges, laid out so ONNX Runtime's CPU
// kernels really run in int8 (ORT.md §2.2, §2.3, §8.1).
//  1. targets: Conv, MatMul, Gemm (constant weights; MatMul also activation x activation), Add/Mul of
//     two activations, AveragePool, GlobalAveragePool, Sigmoid, LeakyRelu, Softmax, Concat — the ops
//     ORT fuses into QLinear*/QGemm kernels. Data-movement ops (MaxPool, Reshape, Flatten, Transpose,
//     ...) join when their input is already quantized, with the same scale and zero point, so ORT
//     runs them on uint8. Nothing else gets Q/DQ: a Q/DQ pair between two float ops is pure overhead.
//  2. a Relu or Clip that is the only reader of a target's output is removed; the target's output Q
//     takes the activation's range (uint8 zero point 0 for Relu), which ORT needs to fuse (§2.2 rule 3)
//  3. activations: asymmetric, per tensor, scalar scale and zero point, range from calibration
//     (minmax, percentile, entropy, mse) over streaming statistics; Softmax outputs use [0, 1]
//  4. weights: int8 symmetric in [-127, 127] ([-64, 64] with reduceRange), per output channel (Conv
//     axis 0, MatMul axis 1, Gemm axis 0 with transB else 1); each weight gets its own DequantizeLinear
//  5. biases: int32, scale = x_scale * w_scale[c], zero point 0; a weight scale is raised when a bias
//     would overflow int32; Gemm's beta is folded into the bias
//  6. optional bias correction: b' = b - (deq(Wq) - W) · E[x], with E[x] the per-channel input mean
//     measured during calibration (removes the systematic shift quantized weights add)

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import type { Dataset } from '../../data/dataset.js';
import { EdgefitError } from '../../errors.js';
import { attrFloat, attrInt, GraphBuilder, setAttr } from '../../ir/builder.js';
import { type Graph, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { type CalibrationMethod, chooseRange, RangeStats } from '../../kernels/calibration.js';
import {
  computeScaleZeroPoint,
  type QRange,
  quantizeWeight,
  RANGES,
  roundHalfEven,
} from '../../kernels/quant.js';
import { DataType } from '../../onnx/dtype.js';
import { asFloat32, collectActivations } from '../../pipeline/calibrate.js';
import type { Runtime } from '../../runtime/types.js';
import { definePass, type PassContext } from '../pass.js';
import { constantOf, nodeMatcher, replaceValue } from '../util.js';

const COMPUTE = new Set([
  'Conv',
  'MatMul',
  'Gemm',
  'Add',
  'Mul',
  'AveragePool',
  'GlobalAveragePool',
  'Sigmoid',
  'LeakyRelu',
  'Softmax',
  'Concat',
]);
/** ops that run on uint8 when Q and DQ around them share scale and zero point */
const MOVE = new Set([
  'Reshape',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Flatten',
  'MaxPool',
  'Slice',
  'Gather',
  'Resize',
  'Expand',
  'Tile',
  'Split',
]);
/** ops whose presence means the model is already quantized */
export const QUANTIZED_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QLinearConv',
  'QLinearMatMul',
  'MatMulInteger',
  'ConvInteger',
  'QGemm',
  'MatMulNBits',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'QLinearAdd',
  'QLinearMul',
]);

export const staticOptions = z
  .object({
    activationType: z.enum(['uint8', 'int8', 'int16']).default('uint8'),
    perChannel: z.boolean().default(true),
    calibration: z.enum(['minmax', 'percentile', 'entropy', 'mse']).default('minmax'),
    percentile: z.number().min(90).max(100).default(99.999),
    /** calibration samples */
    samples: z.number().int().positive().default(256),
    /** node names (globs) or op types to keep in float */
    exclude: z.array(z.string()).default([]),
    foldActivations: z.boolean().default(true),
    biasCorrection: z.boolean().default(false),
    /** 7-bit weights for x86 CPUs without VNNI (ORT.md §2.4) */
    reduceRange: z.boolean().default(false),
  })
  .strict();

export type StaticOptions = z.infer<typeof staticOptions>;

export function assertNotQuantized(nodes: Iterable<Node>): void {
  for (const n of nodes)
    if (QUANTIZED_OPS.has(n.opType))
      throw new EdgefitError(
        'UNSUPPORTED',
        `the model is already quantized (it has ${n.opType} node ${n.name || ''})`.replace(' )', ')'),
        'quantize the float model instead',
      );
}

const isFloatValue = (v: Value | undefined): v is Value =>
  v?.type?.elemType === DataType.FLOAT && !constantOf(v);

interface Plan {
  /** nodes that will run quantized */
  targets: Set<Node>;
  /** value -> the name whose calibrated range it takes (a folded Relu's output, or itself) */
  rangeSource: Map<Value, string>;
  /** value -> value whose qparams it must share (data-movement outputs) */
  tiedTo: Map<Value, Value>;
  /** values that get Q -> DQ, in graph order */
  qdq: Value[];
  /** Relu/Clip nodes to remove: activation node -> the target output it follows */
  folds: Map<Node, Value>;
  /** input value of Conv/Gemm/MatMul targets with weights -> channel means wanted for bias correction */
  meanOf: Set<Value>;
}

function weightIsQuantizable(n: Node): boolean {
  const w = constantOf(n.inputs[1]);
  return !!w && w.dtype === DataType.FLOAT && w.dims.length >= 2;
}

function isTarget(n: Node): boolean {
  if (n.domain !== '' || !COMPUTE.has(n.opType)) return false;
  const x = n.inputs[0];
  switch (n.opType) {
    case 'Conv':
      return (
        isFloatValue(x) &&
        weightIsQuantizable(n) &&
        (!n.inputs[2] || constantOf(n.inputs[2])?.dtype === DataType.FLOAT)
      );
    case 'MatMul': {
      if (!isFloatValue(x)) return false;
      const w = constantOf(n.inputs[1]);
      return w ? w.dtype === DataType.FLOAT && w.dims.length === 2 : isFloatValue(n.inputs[1]);
    }
    case 'Gemm': {
      const w = constantOf(n.inputs[1]);
      const c = n.inputs[2] ? constantOf(n.inputs[2]) : undefined;
      const nOut = w ? (attrInt(n, 'transB', 0) ? w.dims[0]! : w.dims[1]!) : 0;
      return (
        isFloatValue(x) &&
        attrInt(n, 'transA', 0) === 0 &&
        !!w &&
        w.dtype === DataType.FLOAT &&
        w.dims.length === 2 &&
        (!n.inputs[2] || (!!c && c.dtype === DataType.FLOAT && (c.size === nOut || c.size === 1)))
      );
    }
    case 'Add':
    case 'Mul':
      return isFloatValue(x) && isFloatValue(n.inputs[1]);
    case 'Concat':
      return n.inputs.every((v) => isFloatValue(v));
    default:
      return isFloatValue(x);
  }
}

function plan(graph: Graph, options: StaticOptions, ctx: PassContext): Plan {
  const excluded = options.exclude.length ? nodeMatcher(options.exclude) : () => false;
  const p: Plan = {
    targets: new Set(),
    rangeSource: new Map(),
    tiedTo: new Map(),
    qdq: [],
    folds: new Map(),
    meanOf: new Set(),
  };
  const marked = new Set<Value>();
  const pendingFolds: [Node, Value][] = [];
  const mark = (v: Value | undefined) => {
    if (v && !marked.has(v)) {
      marked.add(v);
      p.qdq.push(v);
    }
  };
  for (const n of graph.nodes) {
    if (!ctx.selects(n) || excluded(n)) continue;
    if (isTarget(n)) {
      p.targets.add(n);
      const weighted =
        (n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul') && !!constantOf(n.inputs[1]);
      for (const [i, v] of n.inputs.entries()) if (v && !(weighted && i > 0)) mark(v);
      if (weighted && options.biasCorrection) p.meanOf.add(n.inputs[0]!);
      const out = n.outputs[0]!;
      // rule 2: fold a lone Relu/Clip reader into the output range
      const only = out.uses.length === 1 && !out.isGraphOutput ? out.uses[0]!.node : undefined;
      const foldable =
        options.foldActivations &&
        only !== undefined &&
        only.domain === '' &&
        !excluded(only) &&
        (only.opType === 'Relu' ||
          (only.opType === 'Clip' &&
            (!only.inputs[1] || constantOf(only.inputs[1]) !== undefined) &&
            (!only.inputs[2] || constantOf(only.inputs[2]) !== undefined)));
      if (n.opType === 'MatMul' || n.opType === 'Gemm') {
        // MatMul/Gemm need no output Q (MatMulIntegerToFloat and QGemm give float): their output is
        // quantized only when a quantized node reads it, and a Relu is folded only then (the Q clamps)
        if (foldable) pendingFolds.push([only, out]);
      } else {
        if (foldable) {
          p.folds.set(only, out);
          p.rangeSource.set(out, only.outputs[0]!.name);
          // the activation's output becomes `out` once folded: data-movement ops reading it join
          // the quantized region with `out`'s parameters
          marked.add(only.outputs[0]!);
        }
        mark(out);
      }
    } else if (
      n.domain === '' &&
      MOVE.has(n.opType) &&
      n.inputs[0] &&
      marked.has(n.inputs[0]) &&
      isFloatValue(n.inputs[0]) &&
      n.outputs.length === 1
    ) {
      p.targets.add(n);
      p.tiedTo.set(n.outputs[0]!, n.inputs[0]);
      mark(n.outputs[0]);
    }
  }
  for (const [act, out] of pendingFolds) {
    const y = act.outputs[0]!;
    if (!marked.has(y) && !marked.has(out)) continue;
    p.folds.set(act, out);
    p.rangeSource.set(out, y.name);
  }
  for (const v of p.qdq) if (!p.rangeSource.has(v)) p.rangeSource.set(v, v.name);
  return p;
}

interface Calibrated {
  ranges: Map<string, [number, number]>;
  means: Map<string, Float64Array>;
}

/** per-channel mean of x: axis 1 for rank >= 3 (NCHW), the last axis for rank <= 2 */
function accumulateMean(
  acc: { sum: Float64Array; count: number } | undefined,
  x: Float32Array,
  dims: number[],
) {
  const rank = dims.length;
  const c = rank >= 3 ? dims[1]! : dims[rank - 1]!;
  const out = acc ?? { sum: new Float64Array(c), count: 0 };
  if (rank >= 3) {
    const inner = dims.slice(2).reduce((a, b) => a * b, 1);
    for (let n = 0; n < dims[0]!; n++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        const base = (n * c + ch) * inner;
        for (let i = 0; i < inner; i++) s += x[base + i]!;
        out.sum[ch]! += s / inner;
      }
    out.count += dims[0]!;
  } else {
    const rows = x.length / c;
    for (let r = 0; r < rows; r++) for (let ch = 0; ch < c; ch++) out.sum[ch]! += x[r * c + ch]!;
    out.count += rows;
  }
  return out;
}

export async function calibrate(
  graph: Graph,
  names: string[],
  meanNames: string[],
  data: Dataset,
  runtime: Runtime,
  options: { method: CalibrationMethod; percentile: number; samples: number },
): Promise<Calibrated> {
  const stats = new Map(names.map((n) => [n, new RangeStats()]));
  const sums = new Map<string, { sum: Float64Array; count: number }>();
  const all = [...new Set([...names, ...meanNames])];
  await collectActivations(
    graph.model,
    all,
    data,
    runtime,
    (values) => {
      for (const [name, t] of Object.entries(values)) {
        const x = asFloat32(t);
        stats.get(name)?.observe(x);
        if (meanNames.includes(name)) sums.set(name, accumulateMean(sums.get(name), x, t.dims));
      }
    },
    { limit: options.samples },
  );
  if (options.method !== 'minmax')
    await collectActivations(
      graph.model,
      names,
      data,
      runtime,
      (values) => {
        for (const [name, t] of Object.entries(values)) stats.get(name)?.observeHistogram(asFloat32(t));
      },
      { limit: options.samples },
    );
  const ranges = new Map<string, [number, number]>();
  for (const [name, s] of stats)
    ranges.set(name, chooseRange(s, options.method, { percentile: options.percentile }));
  const means = new Map<string, Float64Array>();
  for (const [name, a] of sums)
    means.set(
      name,
      a.sum.map((v) => v / Math.max(1, a.count)),
    );
  return { ranges, means };
}

function scalar(dtype: number, value: number): Tensor {
  switch (dtype) {
    case DataType.UINT8:
      return Tensor.fromTyped('', dtype, [], Uint8Array.of(value));
    case DataType.INT8:
      return Tensor.fromTyped('', dtype, [], Int8Array.of(value));
    case DataType.INT16:
      return Tensor.fromTyped('', dtype, [], Int16Array.of(value));
    default:
      return Tensor.fromFloat32('', [], [value]);
  }
}

interface Emitter {
  b: GraphBuilder;
  qDomain: string;
  actType: number;
  actRange: QRange;
}

/** Insert Q -> DQ after `v`; every former reader of v reads the DQ output. */
function insertQdq(e: Emitter, v: Value, scale: number, zeroPoint: number): void {
  const g = e.b.graph;
  const s = e.b.weight(`${v.name}_scale`, scalar(DataType.FLOAT, scale));
  const z = e.b.weight(`${v.name}_zero_point`, scalar(e.actType, zeroPoint));
  const dqOut = new Value(g, g.model.uniqueName(`${v.name}_dq`), v.type ? { ...v.type } : undefined);
  replaceValue(v, dqOut); // readers (and a graph output's name) move to the DQ output
  const at = v.producer ? g.nodes.indexOf(v.producer) + 1 : 0;
  const q = new Node(g, 'QuantizeLinear', e.qDomain, g.model.uniqueName(`${v.name}_QuantizeLinear`));
  q.addInput(v);
  q.addInput(s);
  q.addInput(z);
  const qOut = new Value(
    g,
    g.model.uniqueName(`${v.name}_q`),
    v.type ? { elemType: e.actType, shape: v.type.shape } : undefined,
  );
  q.addOutput(qOut);
  const dq = new Node(g, 'DequantizeLinear', e.qDomain, g.model.uniqueName(`${v.name}_DequantizeLinear`));
  dq.addInput(qOut);
  dq.addInput(s);
  dq.addInput(z);
  dq.addOutput(dqOut);
  g.insertNode(q, at);
  g.insertNode(dq, at + 1);
}

function insertDqBefore(
  e: Emitter,
  node: Node,
  index: number,
  q: Tensor,
  scales: Float32Array,
  zeroPoints: Tensor,
  axis: number | undefined,
  base: string,
): void {
  const g = e.b.graph;
  const qv = e.b.weight(`${base}_quantized`, q);
  const perChannel = axis !== undefined;
  const sv = e.b.weight(
    `${base}_scale`,
    perChannel ? Tensor.fromFloat32('', [scales.length], scales) : Tensor.fromFloat32('', [], [scales[0]!]),
  );
  const zv = e.b.weight(`${base}_zero_point`, zeroPoints);
  const dq = new Node(g, 'DequantizeLinear', '', g.model.uniqueName(`${base}_DequantizeLinear`));
  dq.addInput(qv);
  dq.addInput(sv);
  dq.addInput(zv);
  if (perChannel) setAttr(dq, 'axis', axis);
  const out = new Value(g, g.model.uniqueName(`${base}_dq`), {
    elemType: q.dtype === DataType.INT32 ? DataType.FLOAT : DataType.FLOAT,
    shape: [...q.dims],
  });
  dq.addOutput(out);
  g.insertNode(dq, g.nodes.indexOf(node));
  node.setInput(index, out);
}

function weightAxis(n: Node): number {
  if (n.opType === 'Conv') return 0;
  if (n.opType === 'Gemm') return attrInt(n, 'transB', 0) ? 0 : 1;
  return 1; // MatMul [K, N]: per column
}

/** grouped-conv aware: input channel feeding weight element (o, c_local) */
function biasCorrection(
  n: Node,
  w: Float32Array,
  deq: Float32Array,
  dims: number[],
  mean: Float64Array,
): Float64Array | undefined {
  if (n.opType === 'Conv') {
    const [m, cPer] = dims as [number, number];
    const inner = dims.slice(2).reduce((a, b) => a * b, 1);
    const group = attrInt(n, 'group', 1);
    if (mean.length !== cPer * group) return undefined;
    const corr = new Float64Array(m);
    for (let o = 0; o < m; o++) {
      const g = Math.floor(o / (m / group));
      let s = 0;
      for (let c = 0; c < cPer; c++) {
        const mu = mean[g * cPer + c]!;
        const base = (o * cPer + c) * inner;
        for (let k = 0; k < inner; k++) s += (deq[base + k]! - w[base + k]!) * mu;
      }
      corr[o] = s;
    }
    return corr;
  }
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const [r, c] = dims as [number, number];
  const k = transB ? c : r;
  const nOut = transB ? r : c;
  if (mean.length !== k) return undefined;
  const corr = new Float64Array(nOut);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++) {
      const idx = i * c + j;
      corr[transB ? i : j]! += (deq[idx]! - w[idx]!) * mean[transB ? j : i]!;
    }
  return corr;
}

export const staticInt8Pass = definePass({
  id: 'quantize-static-int8',
  summary: 'static int8 QDQ quantization with calibrated activations, laid out for ONNX Runtime int8 kernels',
  lossless: false,
  options: staticOptions,
  searchSpace: { calibration: ['minmax', 'percentile', 'entropy'], perChannel: [true, false] },
  async apply(model, options, ctx) {
    if (!ctx.calibration || !ctx.runtime)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        'static quantization needs calibration data',
        'pass --calib FILE (e.g. a few hundred samples as .npz)',
      );
    assertNotQuantized(model.graph.allNodes());
    const opset = model.opset('') ?? 0;
    if (opset < 10)
      throw new EdgefitError(
        'UNSUPPORTED',
        `static quantization needs ai.onnx opset >= 10 (the model has ${opset})`,
        'convert the model to a newer opset',
      );
    inferShapes(model, { defaultDim: null, write: true });
    const graph = model.graph;
    const p = plan(graph, options, ctx);
    if (p.targets.size === 0) return { changed: false, stats: { quantized: 0 } };

    // calibrate on the model as it is (folded activations are still there to be measured)
    const names = [...new Set(p.qdq.map((v) => p.rangeSource.get(v)!))];
    const meanNames = [...p.meanOf].map((v) => v.name);
    const cal = await calibrate(graph, names, meanNames, ctx.calibration, ctx.runtime, {
      method: options.calibration,
      percentile: options.percentile,
      samples: options.samples,
    });

    // rule 2: remove the folded activations; their outputs' roles pass to the target outputs
    const renamed = new Map<Value, Value>();
    for (const [act, out] of p.folds) {
      const y = act.outputs[0]!;
      if (!replaceValue(y, out)) {
        p.rangeSource.set(out, out.name);
        continue;
      }
      graph.removeNode(act, true);
      renamed.set(y, out);
    }
    if (renamed.size) {
      p.qdq = [...new Set(p.qdq.map((v) => renamed.get(v) ?? v))];
      for (const [v, src] of p.tiedTo) p.tiedTo.set(v, renamed.get(src) ?? src);
    }

    const int16 = options.activationType === 'int16';
    const qDomain = int16 && opset < 21 ? 'com.microsoft' : '';
    if (qDomain && !model.opsetImports.has('com.microsoft')) model.opsetImports.set('com.microsoft', 1);
    const actType =
      options.activationType === 'uint8'
        ? DataType.UINT8
        : options.activationType === 'int8'
          ? DataType.INT8
          : DataType.INT16;
    const actRange =
      options.activationType === 'uint8'
        ? RANGES.uint8
        : options.activationType === 'int8'
          ? RANGES.int8
          : RANGES.int16;
    const e: Emitter = { b: new GraphBuilder(graph), qDomain, actType, actRange };

    // rule 3: activation qparams (tied values share their source's)
    const qparams = new Map<Value, { scale: number; zeroPoint: number }>();
    const paramsOf = (v: Value): { scale: number; zeroPoint: number } => {
      const known = qparams.get(v);
      if (known) return known;
      const tied = p.tiedTo.get(v);
      let r: { scale: number; zeroPoint: number };
      if (tied) r = paramsOf(tied);
      else {
        const src = p.rangeSource.get(v)!;
        const isSoftmax = v.producer?.opType === 'Softmax';
        const [lo, hi] = isSoftmax ? [0, 1] : (cal.ranges.get(src) ?? [0, 0]);
        r = computeScaleZeroPoint(lo, hi, actRange, false);
      }
      qparams.set(v, r);
      return r;
    };
    for (const v of p.qdq) paramsOf(v);

    // rules 4-6: weights and biases of the targets
    const perChannel = options.perChannel && opset >= 13;
    const wRange = options.reduceRange ? RANGES.int8Reduced : RANGES.int8Symmetric;
    let weights = 0;
    let corrected = 0;
    const byOp: Record<string, number> = {};
    for (const n of [...p.targets]) {
      byOp[n.opType] = (byOp[n.opType] ?? 0) + 1;
      const wt =
        n.opType === 'Conv' || n.opType === 'Gemm' || n.opType === 'MatMul'
          ? constantOf(n.inputs[1])
          : undefined;
      if (!wt) continue;
      const wf = wt.toFloat32();
      const axis = perChannel ? weightAxis(n) : undefined;
      const xScale = paramsOf(n.inputs[0]!).scale;
      // the bias in float: Gemm's beta folded in
      let bias: Float32Array | undefined;
      const bt = n.inputs[2] ? constantOf(n.inputs[2]) : undefined;
      const channels =
        axis === undefined
          ? n.opType === 'Conv'
            ? wt.dims[0]!
            : weightAxis(n) === 0
              ? wt.dims[0]!
              : wt.dims[1]!
          : wt.dims[axis]!;
      if (bt) {
        const bv = bt.toFloat32();
        const beta = n.opType === 'Gemm' ? attrFloat(n, 'beta', 1) : 1;
        bias = Float32Array.from({ length: channels }, (_, i) => beta * bv[bv.length === 1 ? 0 : i]!);
        if (n.opType === 'Gemm') setAttr(n, 'beta', 1.0, true);
      }
      let { q, scales } = quantizeWeight(wf, wt.dims, axis, wRange, true);
      // rule 5: raise a weight scale when its bias would overflow int32
      if (bias) {
        let raised = false;
        for (let c = 0; c < channels; c++) {
          const ws = scales[axis === undefined ? 0 : c]!;
          const need = (1.0001 * 2 * Math.abs(bias[c]!)) / (2 ** 32 - 2) / xScale;
          if (ws < need) {
            scales[axis === undefined ? 0 : c] = Math.fround(need);
            raised = true;
          }
        }
        if (raised) {
          const redo = requantize(wf, wt.dims, axis, scales, wRange);
          q = redo;
        }
      }
      // rule 6: bias correction from the measured input means
      const mean = cal.means.get(n.inputs[0]!.name);
      if (options.biasCorrection && mean && n.opType !== 'MatMul') {
        const deq = dequantize(q, wt.dims, axis, scales);
        const corr = biasCorrection(n, wf, deq, wt.dims, mean);
        if (corr) {
          bias ??= new Float32Array(channels);
          for (let c = 0; c < channels; c++) bias[c] = bias[c]! - corr[c]!;
          corrected++;
        }
      }
      const zp = Tensor.fromTyped(
        '',
        DataType.INT8,
        axis === undefined ? [] : [scales.length],
        new Int8Array(axis === undefined ? 1 : scales.length),
      );
      insertDqBefore(
        e,
        n,
        1,
        Tensor.fromTyped('', DataType.INT8, [...wt.dims], Int8Array.from(q)),
        scales,
        zp,
        axis,
        wt.name || n.inputs[1]!.name,
      );
      weights++;
      if (bias && (n.opType === 'Conv' || n.opType === 'Gemm')) {
        const bScales = Float32Array.from({ length: channels }, (_, c) =>
          Math.fround(xScale * scales[axis === undefined ? 0 : c]!),
        );
        const bq = Int32Array.from(bias, (b, c) =>
          Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, roundHalfEven(b / bScales[c]!))),
        );
        const zeros = Tensor.fromTyped('', DataType.INT32, [channels], new Int32Array(channels));
        insertDqBefore(
          e,
          n,
          2,
          Tensor.fromTyped('', DataType.INT32, [channels], bq),
          bScales,
          zeros,
          0,
          `${n.name || 'node'}_bias`,
        );
      }
    }

    // activations: Q -> DQ pairs (inserted last so weight DQs sit right before their readers)
    for (const v of p.qdq) {
      const { scale, zeroPoint } = paramsOf(v);
      insertQdq(e, v, scale, zeroPoint);
    }
    if (perChannel && opset < 13) model.opsetImports.set('', 13);
    return {
      changed: true,
      stats: {
        quantized: p.targets.size,
        weights,
        qdqPairs: p.qdq.length,
        foldedActivations: p.folds.size,
        biasCorrected: corrected,
        ...byOp,
      },
    };
  },
});

function requantize(
  w: Float32Array,
  dims: number[],
  axis: number | undefined,
  scales: Float32Array,
  range: QRange,
): Int32Array {
  const q = new Int32Array(w.length);
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? w.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < w.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    q[i] = Math.max(range.qmin, Math.min(range.qmax, roundHalfEven(Math.fround(w[i]! / scales[c]!))));
  }
  return q;
}

function dequantize(
  q: Int32Array,
  dims: number[],
  axis: number | undefined,
  scales: Float32Array,
): Float32Array {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? q.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return Float32Array.from(
    q,
    (v, i) => v * scales[axis === undefined ? 0 : Math.floor(i / inner) % channels]!,
  );
}

/** The compute layers static quantization would quantize (nodes without a name get one). */
export function staticTargets(
  model: import('../../ir/graph.js').Model,
  options: StaticOptions,
): { name: string; op: string }[] {
  inferShapes(model, { defaultDim: null, write: true });
  for (const n of model.graph.nodes) if (!n.name) n.name = model.uniqueName(n.opType);
  const p = plan(model.graph, options, { selects: () => true } as unknown as PassContext);
  return [...p.targets].filter((n) => COMPUTE.has(n.opType)).map((n) => ({ name: n.name, op: n.opType }));
}
