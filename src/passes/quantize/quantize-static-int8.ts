// quantize-static-int8: QDQ int8 with calibrated activation ranges, laid out so ONNX Runtime's CPU
// kernels really run in int8 (docs/ORT.md §2.2, §2.3, §8.1).
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
//  7. opsets: QDQ needs ai.onnx 10 and per-channel weights 13; an older model is upgraded
//     (opset.ts upgradeOpset), else weights go per tensor (opset >= 10), else nothing is quantized
//     and a warning says why — never a DequantizeLinear with `axis` below 13
// The plan (rules 1, 2) is static-plan.ts, calibration static-calibrate.ts, rule 6's correction
// bias-correction.ts, the Q/DQ nodes qdq.ts.

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { EdgefitError } from '../../errors.js';
import { attrFloat, attrInt, GraphBuilder, setAttr } from '../../ir/builder.js';
import type { Model, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import {
  computeScaleZeroPoint,
  dequantizeWeight,
  quantizeWeight,
  RANGES,
  requantizeWeight,
  roundHalfEven,
} from '../../kernels/quant.js';
import { DataType } from '../../onnx/dtype.js';
import { isExposedCodebook } from '../encoding.js';
import { definePass, type PassContext } from '../pass.js';
import { unmatchedExcludes } from '../reasons.js';
import { constantOf, replaceValue } from '../util.js';
import { biasCorrection } from './bias-correction.js';
import { upgradeBlocker, upgradeOpset } from './opset.js';
import { assertNotQuantized, type Emitter, insertDqBefore, insertQdq } from './qdq.js';
import { calibrate } from './static-calibrate.js';
import { COMPUTE, plan } from './static-plan.js';

const staticOptions = z
  .object({
    activationType: z
      .enum(['uint8', 'int8', 'int16'])
      .default('uint8')
      .describe('activation type (int16: com.microsoft Q/DQ below opset 21)'),
    perTensor: z
      .boolean()
      .default(false)
      .describe('one scale per weight tensor instead of per output channel'),
    method: z
      .enum(['minmax', 'percentile', 'entropy', 'mse'])
      .default('minmax')
      .describe('activation range method'),
    percentile: z
      .number()
      .min(90)
      .max(100)
      .default(99.999)
      .describe('percentile of the activation values for method percentile'),
    samples: z.number().int().min(1).max(100000).default(256).describe('calibration samples to use at most'),
    exclude: z.array(z.string()).default([]).describe('node names (globs) or op types to keep in float'),
    foldActivations: z
      .boolean()
      .default(true)
      .describe('fold a Relu/Clip that alone reads a quantized output into its range (ORT fuses it)'),
    biasCorrection: z
      .boolean()
      .default(false)
      .describe('correct biases for the mean shift quantized weights cause'),
    reduceRange: z
      .boolean()
      .default(false)
      .describe('7-bit weights for x86 CPUs without VNNI (docs/ORT.md §2.4)'),
  })
  .strict();

export type StaticOptions = z.infer<typeof staticOptions>;

function weightAxis(n: Node): number {
  if (n.opType === 'Conv') return 0;
  if (n.opType === 'Gemm') return attrInt(n, 'transB', 0) ? 0 : 1;
  return 1; // MatMul [K, N]: per column
}

/** The ONNX type of quantized activations, by the activationType option. */
const ACTIVATION_TYPES = { uint8: DataType.UINT8, int8: DataType.INT8, int16: DataType.INT16 } as const;

export const quantizeStaticInt8 = definePass({
  id: 'quantize-static-int8',
  summary: 'static int8 QDQ quantization with calibrated activations, laid out for ONNX Runtime int8 kernels',
  lossless: false,
  options: staticOptions,
  searchSpace: { method: ['minmax', 'percentile', 'entropy'], perTensor: [false, true] },
  async apply(model, options, ctx) {
    if (!ctx.calibration || !ctx.collect)
      throw new EdgefitError(
        'BAD_ARGUMENT',
        'static quantization needs calibration data',
        'pass --calib FILE (e.g. a few hundred samples as .npz)',
      );
    assertNotQuantized(model.graph.allNodes());
    inferShapes(model, { defaultDim: null, write: true });
    for (const w of unmatchedExcludes('quantize-static-int8', model, options.exclude)) ctx.log.warn(w);
    const graph = model.graph;
    let p = plan(graph, options, ctx);
    if (p.targets.size === 0) {
      ctx.log.warn(
        'quantize-static-int8 quantized nothing: no Conv, MatMul or Gemm with a constant float weight (or all excluded)',
      );
      return { changed: false, stats: { quantized: 0 } };
    }
    // rule 7: QDQ needs opset 10, per-channel weights 13: upgrade the model, else per tensor, else skip
    const from = model.opset('') ?? 0;
    const want = options.perTensor ? 10 : 13;
    if (from < want && upgradeOpset(model, want) === undefined) {
      const why = upgradeBlocker(model, want);
      if (want === 13 && (from >= 10 || upgradeOpset(model, 10) !== undefined))
        ctx.log.warn(
          `quantize-static-int8: per-channel weights need opset 13 and this opset-${from} model cannot be converted (${why}); weights quantized per tensor`,
        );
      else {
        ctx.log.warn(
          `quantize-static-int8 quantized nothing: QDQ needs ai.onnx opset >= 10 and this opset-${from} model cannot be converted (${why}); convert it to opset 13 first`,
        );
        return { changed: false, stats: { quantized: 0 } };
      }
    }
    const opset = model.opset('') ?? 0;
    if (opset !== from) {
      inferShapes(model, { defaultDim: null, write: true });
      p = plan(graph, options, ctx);
    }

    // calibrate on the model as it is (folded activations are still there to be measured)
    const names = [...new Set(p.qdq.map((v) => p.rangeSource.get(v)!))];
    const meanNames = [...p.meanOf].map((v) => v.name);
    const cal = await calibrate(graph, names, meanNames, ctx.collect, {
      method: options.method,
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
    const actType = ACTIVATION_TYPES[options.activationType];
    const actRange = RANGES[options.activationType];
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
    const perChannel = !options.perTensor && opset >= 13;
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
      const axis = perChannel && !isExposedCodebook(wt) ? weightAxis(n) : undefined;
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
          const redo = requantizeWeight(wf, wt.dims, axis, scales, wRange);
          q = redo;
        }
      }
      // rule 6: bias correction from the measured input means
      const mean = cal.means.get(n.inputs[0]!.name);
      if (options.biasCorrection && mean && n.opType !== 'MatMul') {
        const deq = dequantizeWeight(q, wt.dims, axis, scales);
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
        // one weight scale (per tensor, or a codebook's): one bias scale too
        const biasAxis = axis === undefined ? undefined : 0;
        const zeros =
          biasAxis === 0
            ? Tensor.fromTyped('', DataType.INT32, [channels], new Int32Array(channels))
            : Tensor.fromTyped('', DataType.INT32, [], new Int32Array(1));
        insertDqBefore(
          e,
          n,
          2,
          Tensor.fromTyped('', DataType.INT32, [channels], bq),
          bScales,
          zeros,
          biasAxis,
          `${n.name || 'node'}_bias`,
        );
      }
    }

    // activations: Q -> DQ pairs (inserted last so weight DQs sit right before their readers)
    for (const v of p.qdq) {
      const { scale, zeroPoint } = paramsOf(v);
      insertQdq(e, v, scale, zeroPoint);
    }
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

/** The compute layers static quantization would quantize (nodes without a name get one). */
export function staticTargets(model: Model, options: StaticOptions): { name: string; op: string }[] {
  inferShapes(model, { defaultDim: null, write: true });
  for (const n of model.graph.nodes) if (!n.name) n.name = model.uniqueName(n.opType);
  const p = plan(model.graph, options, { selects: () => true } as unknown as PassContext);
  return [...p.targets].filter((n) => COMPUTE.has(n.opType)).map((n) => ({ name: n.name, op: n.opType }));
}
