// What the data-aware pruning passes know about a layer's input: the layer seen as products
// Y_g = X_g · W_g (one per group) with W_g [K, N] row-major, rows = input features; and the
// statistics of X_g over calibration data: XᵀX (SparseGPT's Hessian, the normal equations of
// prune-channels' reconstruction), the column sums Xᵀ1, the row count, and each input channel's sum
// over all its elements (the channel means bias compensation uses).
//  1. MatMul: W [K, N]; Gemm (transA = 0): alpha · op(B) (quantize/gptq.ts's linearOf/matrixOf); X is
//     the input flattened to rows of K
//  2. Conv (2-D, any group): group g's W_g [Cg·kh·kw, O/G], row c·kh·kw + i·kw + j (the weight's own
//     order); X_g is the im2col matrix of the input's channels of group g: one row per (sample, output
//     position), zeros where the window reaches into the padding (pads, auto_pad, strides, dilations)
//  3. layers reading the same activation with the same geometry share one set of statistics; every
//     batch's XᵀX is one ONNX Runtime product (PassContext.matmul), accumulated in float64

import { attrInt, attrInts, attrString } from '../../ir/builder.js';
import type { Model, Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import type { PassContext } from '../pass.js';
import { linearOf, matrixOf } from '../quantize/gptq.js';
import { asFloat32, constantOf } from '../util.js';

export interface ConvGeometry {
  kh: number;
  kw: number;
  strides: [number, number];
  dilations: [number, number];
  /** explicit pads [top, left, bottom, right], or the auto_pad mode resolved per input size */
  pads: [number, number, number, number] | 'SAME_UPPER' | 'SAME_LOWER';
  group: number;
  /** input channels per group */
  cg: number;
}

/** A layer as per-group products X_g · W_g, W_g [K, N]. */
export interface LayerMatrix {
  node: Node;
  /** the activation the layer reads */
  input: string;
  K: number;
  N: number;
  groups: number;
  conv?: ConvGeometry;
  /** W_g [K, N] for every group, from the weight tensor's data (its own layout) */
  toMats(raw: Float32Array): Float32Array[];
  /** the weight tensor's data from W_g */
  fromMats(mats: Float32Array[]): Float32Array;
  /** toMats of the node's current weight */
  read(): Float32Array[];
  /** identifies the statistics this layer needs (input and geometry) */
  statsKey: string;
}

export function convGeometry(n: Node, wdims: number[]): ConvGeometry | undefined {
  if (wdims.length !== 4) return undefined;
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  const p = attrInts(n, 'pads') ?? [0, 0, 0, 0];
  const s = attrInts(n, 'strides') ?? [1, 1];
  const d = attrInts(n, 'dilations') ?? [1, 1];
  const pads =
    autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER'
      ? autoPad
      : autoPad === 'VALID'
        ? ([0, 0, 0, 0] as [number, number, number, number])
        : ([p[0]!, p[1]!, p[2]!, p[3]!] as [number, number, number, number]);
  return {
    kh: wdims[2]!,
    kw: wdims[3]!,
    strides: [s[0]!, s[1]!],
    dilations: [d[0]!, d[1]!],
    pads,
    group: attrInt(n, 'group', 1),
    cg: wdims[1]!,
  };
}

/** rules 1, 2: the layer view of a MatMul, Gemm or 2-D Conv with a constant float weight. */
export function layerMatrix(n: Node): LayerMatrix | undefined {
  const t = constantOf(n.inputs[1]);
  const x = n.inputs[0];
  if (!t || t.dtype !== DataType.FLOAT || !x || n.domain !== '') return undefined;
  if (n.opType === 'MatMul' || n.opType === 'Gemm') {
    const lin = linearOf(n, 0);
    if (!lin) return undefined;
    const { K, N, alpha, transB } = lin;
    return {
      node: n,
      input: x.name,
      K,
      N,
      groups: 1,
      statsKey: `rows|${x.name}|${K}`,
      read: () => [matrixOf(lin)],
      toMats: (raw) => {
        const m = new Float32Array(K * N);
        for (let k = 0; k < K; k++)
          for (let j = 0; j < N; j++) m[k * N + j] = alpha * raw[transB ? j * K + k : k * N + j]!;
        return [m];
      },
      fromMats: ([m]) => {
        const out = new Float32Array(K * N);
        for (let k = 0; k < K; k++)
          for (let j = 0; j < N; j++) out[transB ? j * K + k : k * N + j] = m![k * N + j]! / alpha;
        return out;
      },
    };
  }
  if (n.opType !== 'Conv') return undefined;
  const geo = convGeometry(n, t.dims);
  if (!geo) return undefined;
  const [O, cg, kh, kw] = t.dims as [number, number, number, number];
  const G = geo.group;
  const og = O / G;
  const K = cg * kh * kw;
  return {
    node: n,
    input: x.name,
    K,
    N: og,
    groups: G,
    conv: geo,
    statsKey: `conv|${x.name}|${JSON.stringify(geo)}`,
    toMats: (w) =>
      Array.from({ length: G }, (_, g) => {
        const m = new Float32Array(K * og);
        for (let o = 0; o < og; o++) for (let k = 0; k < K; k++) m[k * og + o] = w[(g * og + o) * K + k]!;
        return m;
      }),
    fromMats: (mats) => {
      const out = new Float32Array(O * K);
      mats.forEach((m, g) => {
        for (let o = 0; o < og; o++) for (let k = 0; k < K; k++) out[(g * og + o) * K + k] = m[k * og + o]!;
      });
      return out;
    },
    read() {
      return this.toMats(t.toFloat32());
    },
  };
}

/** Output size and resolved begin pads of one spatial axis. */
function axis(size: number, k: number, s: number, d: number, geo: ConvGeometry, i: 0 | 1) {
  if (typeof geo.pads === 'string') {
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + (k - 1) * d + 1 - size);
    const begin = geo.pads === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    return { out, begin };
  }
  const begin = geo.pads[i]!;
  const end = geo.pads[i + 2]!;
  return { out: Math.floor((size + begin + end - d * (k - 1) - 1) / s) + 1, begin };
}

/**
 * rule 2: the im2col rows of group g of x [B, C, H, W]: [B·OH·OW, cg·kh·kw], column c·kh·kw + i·kw + j.
 */
export function im2col(
  x: Float32Array,
  dims: number[],
  geo: ConvGeometry,
  g: number,
): { data: Float32Array; rows: number } {
  const [B, C, H, W] = dims as [number, number, number, number];
  const { kh, kw, cg } = geo;
  const [sh, sw] = geo.strides;
  const [dh, dw] = geo.dilations;
  const ay = axis(H, kh, sh, dh, geo, 0);
  const ax = axis(W, kw, sw, dw, geo, 1);
  const L = ay.out * ax.out;
  const K = cg * kh * kw;
  const data = new Float32Array(B * L * K);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < cg; c++) {
      const plane = (b * C + g * cg + c) * H * W;
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          const col = (c * kh + i) * kw + j;
          for (let oy = 0; oy < ay.out; oy++) {
            const iy = oy * sh - ay.begin + i * dh;
            if (iy < 0 || iy >= H) continue;
            const rowBase = (b * L + oy * ax.out) * K + col;
            const src = plane + iy * W;
            for (let ox = 0; ox < ax.out; ox++) {
              const ix = ox * sw - ax.begin + j * dw;
              if (ix >= 0 && ix < W) data[rowBase + ox * K] = x[src + ix]!;
            }
          }
        }
    }
  return { data, rows: B * L };
}

/** Statistics of one layer input (per group): XᵀX [K, K], Xᵀ1 [K], and the row count. */
export interface InputStats {
  K: number;
  xtx: Float64Array[];
  sum: Float64Array[];
  rows: number;
  /** Σ of every input channel (axis 1; the last axis of a row input) over all its elements */
  channelSum: Float64Array;
  /** elements summed per channel */
  channelCount: number;
}

/**
 * rule 3: statistics of the inputs of `layers` (main-graph layers only; others get none) over at most
 * `samples` calibration samples. Needs ctx.collect and ctx.matmul.
 */
export async function collectInputStats(
  model: Model,
  layers: LayerMatrix[],
  ctx: PassContext,
  samples: number,
): Promise<Map<string, InputStats>> {
  const byKey = new Map<string, LayerMatrix>();
  for (const l of layers)
    if (l.node.graph === model.graph && !byKey.has(l.statsKey)) byKey.set(l.statsKey, l);
  const stats = new Map<string, InputStats>();
  if (!byKey.size || !ctx.collect || !ctx.matmul) return stats;
  for (const [key, l] of byKey)
    stats.set(key, {
      K: l.K,
      xtx: Array.from({ length: l.groups }, () => new Float64Array(l.K * l.K)),
      sum: Array.from({ length: l.groups }, () => new Float64Array(l.K)),
      rows: 0,
      channelSum: new Float64Array(l.conv ? l.conv.cg * l.groups : l.K),
      channelCount: 0,
    });
  const mm = ctx.matmul();
  try {
    const names = [...new Set([...byKey.values()].map((l) => l.input))];
    await ctx.collect(
      model,
      names,
      async (values) => {
        for (const [key, l] of byKey) {
          const t = values[l.input];
          if (!t || t.dtype !== DataType.FLOAT) continue;
          const x = asFloat32(t);
          const s = stats.get(key)!;
          let rows = 0;
          for (let g = 0; g < l.groups; g++) {
            let part: { data: Float32Array; rows: number };
            if (l.conv) {
              if (t.dims.length !== 4 || t.dims[1] !== l.conv.cg * l.groups) break;
              part = im2col(x, t.dims, l.conv, g);
            } else {
              if (x.length % l.K !== 0) break;
              part = { data: x, rows: x.length / l.K };
            }
            const gram = await mm.gram(part.data, part.rows, l.K);
            const acc = s.xtx[g]!;
            for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + gram[i]!;
            const sum = s.sum[g]!;
            for (let r = 0; r < part.rows; r++)
              for (let k = 0; k < l.K; k++) sum[k] = sum[k]! + part.data[r * l.K + k]!;
            rows = part.rows;
          }
          if (!rows) continue;
          s.rows += rows;
          const C = s.channelSum.length;
          const inner = l.conv ? t.dims[2]! * t.dims[3]! : 1;
          for (let i = 0; i < x.length; i++) {
            const c = l.conv ? Math.floor(i / inner) % C : i % C;
            s.channelSum[c] = s.channelSum[c]! + x[i]!;
          }
          s.channelCount += x.length / C;
        }
      },
      { limit: samples },
    );
  } finally {
    await mm.release();
  }
  for (const [key, s] of stats) if (!s.rows) stats.delete(key);
  return stats;
}
