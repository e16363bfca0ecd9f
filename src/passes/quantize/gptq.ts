// What the weight-only passes quantize, and GPTQ's data side.
// A layer is a MatMul or Gemm read as Y = A · W (+ bias) with W a constant float [K, N]: MatMul's B, or
// Gemm's alpha · op(B) when transA = 0 (beta · C must then be a per-feature bias, or C itself when not
// constant and beta = 1). For GPTQ: run the float model over the calibration data once,
// exposing the input X of every layer to quantize, and accumulate H = 2·XᵀX / M per input (X flattened
// to [M, K] rows). Batches are streamed: only the K×K sums are kept (float64), never X itself; each
// batch's XᵀX is one ONNX Runtime Gemm (PassContext.matmul). A weight read by several layers uses
// the sum of their H (the sum of their output errors is what GPTQ then minimises).

import { EdgefitError } from '../../errors.js';
import { attrFloat, attrInt } from '../../ir/builder.js';
import type { Model, Node, Value } from '../../ir/graph.js';
import { type QuantizedMatrix, quantizeRtn, type WeightScheme } from '../../kernels/block-quant.js';
import { quantizeGptq } from '../../kernels/gptq.js';
import { DataType } from '../../onnx/dtype.js';
import type { PassContext } from '../pass.js';
import { asFloat32, constantOf } from '../util.js';

/** A MatMul or Gemm with a constant float weight, seen as MatMul(A, W [K, N]) (+ bias). */
export interface Linear {
  node: Node;
  weight: Value;
  K: number;
  N: number;
  transB: boolean;
  alpha: number;
  /** beta · C as [N] */
  biasVector?: Float32Array;
  /** C itself, added after the product (not constant, beta = 1) */
  biasValue?: Value;
  /** identifies the [K, N] matrix: a weight shared by several layers is quantized once */
  key: string;
}

export function linearOf(n: Node, minElements: number): Linear | undefined {
  const weight = n.inputs[1]!;
  const w = constantOf(weight);
  if (!w || w.dtype !== DataType.FLOAT || w.dims.length !== 2 || w.size < minElements) return undefined;
  if (n.opType === 'MatMul') {
    const [K, N] = w.dims as [number, number];
    return { node: n, weight, K, N, transB: false, alpha: 1, key: weight.name };
  }
  if (attrInt(n, 'transA', 0) !== 0) return undefined;
  const transB = attrInt(n, 'transB', 0) !== 0;
  const alpha = attrFloat(n, 'alpha', 1);
  const beta = attrFloat(n, 'beta', 1);
  const [K, N] = (transB ? [w.dims[1], w.dims[0]] : w.dims) as [number, number];
  const lin: Linear = { node: n, weight, K, N, transB, alpha, key: `${weight.name}|${transB}|${alpha}` };
  const cv = n.inputs[2];
  if (!cv || beta === 0) return lin;
  const c = constantOf(cv);
  if (!c) return beta === 1 ? { ...lin, biasValue: cv } : undefined;
  if (c.dtype !== DataType.FLOAT) return undefined;
  const data = c.toFloat32();
  const perFeature =
    (data.length === 1 || (data.length === N && c.dims.at(-1) === N)) &&
    c.dims.every((d, i) => i === c.dims.length - 1 || d === 1);
  if (!perFeature) return undefined; // a bias per sample: leave that Gemm alone
  return { ...lin, biasVector: Float32Array.from({ length: N }, (_, i) => beta * data[i % data.length]!) };
}

/** alpha · op(B) as row-major [K, N]. */
export function matrixOf(lin: Linear): Float32Array {
  const b = constantOf(lin.weight)!.toFloat32();
  const { K, N, alpha, transB } = lin;
  if (!transB && alpha === 1) return b;
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) out[k * N + n] = alpha * (transB ? b[n * K + k]! : b[k * N + n]!);
  return out;
}

export interface GptqSettings {
  percdamp: number;
  /** calibration samples to use at most */
  samples: number;
}

export interface GptqQuantizer {
  /** quantize w [K, N] whose layer(s) read the named activations (RTN when none was collected) */
  quantize(
    w: Float32Array,
    K: number,
    N: number,
    activations: string[],
    scheme: WeightScheme,
  ): Promise<QuantizedMatrix>;
  release(): Promise<void>;
}

interface Accumulator {
  k: number;
  h: Float64Array;
  rows: number;
}

/** Collect H for the named main-graph activations (each the input of a layer with K inputs). */
export async function prepareGptq(
  model: Model,
  activations: Map<string, number>,
  ctx: PassContext,
  settings: GptqSettings,
): Promise<GptqQuantizer> {
  if (!ctx.calibration)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'gptq needs calibration data (--calib)',
      'pass --calib or use algorithm rtn',
    );
  if (!ctx.collect || !ctx.matmul)
    throw new EdgefitError(
      'BAD_ARGUMENT',
      'gptq needs ONNX Runtime to read activations',
      'give the pass a runtime',
    );
  const mm = ctx.matmul();
  const acc = new Map<string, Accumulator>();
  for (const [name, k] of activations) acc.set(name, { k, h: new Float64Array(k * k), rows: 0 });
  try {
    const names = [...acc.keys()];
    // ORT refuses a run that fetches nothing: when every layer reads a graph input, fetch an output too
    const inputs = new Set(model.graph.inputs.map((v) => v.name));
    if (names.every((n) => inputs.has(n)) && model.graph.outputs[0]) names.push(model.graph.outputs[0].name);
    const seen = names.length
      ? await ctx.collect(
          model,
          names,
          async (values) => {
            for (const [name, a] of acc) {
              const t = values[name];
              if (!t || t.dtype !== DataType.FLOAT) continue;
              const x = asFloat32(t);
              const m = x.length / a.k;
              if (!Number.isInteger(m) || m === 0) continue;
              const g = await mm.gram(x, m, a.k);
              const h = a.h;
              for (let i = 0; i < h.length; i++) h[i] = h[i]! + 2 * g[i]!;
              a.rows += m;
            }
          },
          { limit: settings.samples },
        )
      : 0;
    ctx.log.info(`gptq: statistics of ${acc.size} layer inputs over ${seen} calibration samples`);
  } catch (e) {
    await mm.release();
    throw e;
  }
  for (const a of acc.values()) if (a.rows) for (let i = 0; i < a.h.length; i++) a.h[i] = a.h[i]! / a.rows;
  const gemm = mm.gemm.bind(mm);
  return {
    async quantize(w, K, N, names, scheme) {
      const parts = names
        .map((n) => acc.get(n))
        .filter((a): a is Accumulator => !!a && a.rows > 0 && a.k === K);
      if (!parts.length) return quantizeRtn(w, K, N, scheme);
      let h = parts[0]!.h;
      if (parts.length > 1) {
        h = Float64Array.from(h);
        for (const p of parts.slice(1)) for (let i = 0; i < h.length; i++) h[i] = h[i]! + p.h[i]!;
      }
      return quantizeGptq(w, K, N, h, scheme, gemm, { percdamp: settings.percdamp });
    },
    release: () => mm.release(),
  };
}
