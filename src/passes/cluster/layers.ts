// Where a clustered weight's channels and input features are, for cluster-weights:
//  1. the output-channel axis (the axis codebooks are grouped along): Conv [O, C/g, kh, kw] axis 0,
//     ConvTranspose [C, O/g, ...] axis 1, Gemm B axis 0 with transB = 1 else 1, MatMul B its last axis
//  2. the matrix view the data-aware options need (passes/prune/activations.ts layerMatrix): the layer
//     as products X_g · W_g per group, W_g [K, N] with rows = input features; `offset(g, k, n)` is
//     where W_g[k, n] sits in the weight's element order (Conv (g·N + n)·K + k; MatMul and Gemm
//     transB = 0 k·N + n; Gemm transB = 1 n·K + k — alpha only scales H, so B itself is clustered)
//  3. the calibration statistics: XᵀX of each group's input (im2col for Conv), summed over the layers
//     that read one weight when they all see it the same way; main-graph layers only

import { attrInt } from '../../ir/builder.js';
import type { Model, Node, Value } from '../../ir/graph.js';
import type { PassContext } from '../pass.js';
import { collectInputStats, type LayerMatrix, layerMatrix } from '../prune/activations.js';

/** rule 1 */
export function outputAxis(node: Node, rank: number): number | undefined {
  if (rank < 2) return undefined;
  switch (node.opType) {
    case 'Conv':
      return 0;
    case 'ConvTranspose':
      return 1;
    case 'Gemm':
      return attrInt(node, 'transB', 0) ? 0 : 1;
    default:
      return rank - 1;
  }
}

/** rule 2: a weight as the [K, N] blocks of its layers (all uses alike), or undefined */
export interface WeightMatrix {
  layers: LayerMatrix[];
  K: number;
  N: number;
  groups: number;
  offset(g: number, k: number, n: number): number;
  /** output channel (along the output axis) of column n of group g */
  channel(g: number, n: number): number;
}

export function weightMatrix(v: Value): WeightMatrix | undefined {
  const layers: LayerMatrix[] = [];
  for (const u of v.uses) {
    const l = u.index === 1 ? layerMatrix(u.node) : undefined;
    if (!l) return undefined;
    layers.push(l);
  }
  const first = layers[0];
  if (!first) return undefined;
  const transB = (n: Node) => n.opType === 'Gemm' && attrInt(n, 'transB', 0) !== 0;
  const sig = (l: LayerMatrix) => `${l.node.opType}|${transB(l.node)}|${l.K}|${l.N}|${l.groups}`;
  if (layers.some((l) => sig(l) !== sig(first))) return undefined;
  const { K, N, groups } = first;
  const conv = first.node.opType === 'Conv';
  const byColumn = transB(first.node);
  return {
    layers,
    K,
    N,
    groups,
    offset: conv
      ? (g, k, n) => (g * N + n) * K + k
      : byColumn
        ? (_g, k, n) => n * K + k
        : (_g, k, n) => k * N + n,
    channel: conv ? (g, n) => g * N + n : (_g, n) => n,
  };
}

/** rule 3: XᵀX per group of every weight's matrix view (weights without calibration data are left out) */
export async function weightHessians(
  model: Model,
  weights: Map<Value, WeightMatrix>,
  ctx: PassContext,
  samples: number,
): Promise<Map<Value, Float64Array[]>> {
  const layers = [...weights.values()].flatMap((m) => m.layers);
  const stats = await collectInputStats(model, layers, ctx, samples);
  const out = new Map<Value, Float64Array[]>();
  for (const [v, m] of weights) {
    const parts = m.layers.map((l) => stats.get(l.statsKey)).filter((s) => s !== undefined);
    if (!parts.length) continue;
    const h = parts[0]!.xtx.map((x) => Float64Array.from(x));
    for (const p of parts.slice(1))
      p.xtx.forEach((x, g) => {
        const acc = h[g]!;
        for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + x[i]!;
      });
    out.set(v, h);
  }
  return out;
}
