// What decompose-svd can factorize, and what a choice of ranks costs.
//  1. linear: MatMul, and Gemm with transA = 0, reading a constant float 2-D weight; the factorized
//     matrix is op(B)·alpha as [K, N] (y = x·W). K·N >= minElements.
//  2. Conv (2-D: weight [Cout, Cin, kh, kw] constant float, group 1, Cout·Cin·kh·kw >= minElements),
//     unless conv = 'none': a 1×1 kernel is 'pointwise' (W as [Cin, Cout], two 1×1 convs); a larger one
//     is 'spatial' (W as [Cin·kh, Cout·kw]: a kh×1 conv, then a 1×kw conv) or 'tucker' (W as
//     [Cout, Cin, kh·kw]: 1×1, kh×kw core, 1×1). Grouped and depthwise convs, 1-D/3-D convs and
//     ConvTranspose are left alone, and counted for the warning.
//  3. MACs from the inferred shapes with free dims = 1 (as analysis/cost counts them; an unknown
//     spatial size counts as Ho = Wo = 1, Hi = stride·Ho):
//       linear    rows·K·N                    → rows·r·(K + N)
//       conv      B·Cout·Ho·Wo·Cin·kh·kw      → pointwise B·Ho·Wo·r·(Cin + Cout)
//                                               spatial   B·r·Ho·Wi·Cin·kh + B·Cout·Ho·Wo·r·kw
//                                               tucker    B·(r1·Hi·Wi·Cin + r2·Ho·Wo·r1·kh·kw + Cout·Ho·Wo·r2)
//     params r·(K + N), r·(Cin·kh + Cout·kw), r1·Cin + r2·r1·kh·kw + Cout·r2 (biases unchanged).
//  4. Ranks: one rank r <= min(K, N) for the matrix kinds; [r1 <= Cin, r2 <= Cout] for tucker.

import type { ShapeInference } from '../../analysis/shape-inference.js';
import { attrFloat, attrInt, attrInts, attrString } from '../../ir/builder.js';
import type { Dim, Model, Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { constantOf } from '../util.js';

export type Kind = 'linear' | 'pointwise' | 'spatial' | 'tucker';
export type ConvMode = 'tucker' | 'spatial' | 'none';

export interface ConvShape {
  cout: number;
  cin: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right]; with autoPad SAME_* they follow from the input size */
  pads: [number, number, number, number];
  autoPad: string;
  batch: number;
  hi: number;
  wi: number;
  ho: number;
  wo: number;
}

export interface Layer {
  node: Node;
  kind: Kind;
  /** position among the main graph's nodes; undefined inside subgraphs (no calibration reaches those) */
  index: number | undefined;
  /** the matrix [K, N] (linear, pointwise, spatial) or the kernel [Cout, Cin, kh·kw] (tucker), float64 */
  w: Float64Array;
  k: number;
  n: number;
  conv?: ConvShape;
  /** rows of x the linear layer multiplies (batch × sequence) */
  rows: number;
  macs: number;
  params: number;
  maxRanks: number[];
}

export interface Skipped {
  grouped: number;
  otherConv: number;
}

const num = (d: Dim | undefined, fallback: number) => (typeof d === 'number' && d > 0 ? d : fallback);
const prod = (ds: Dim[] | undefined) =>
  ds?.every((d) => typeof d === 'number') ? (ds as number[]).reduce((a, b) => a * b, 1) : undefined;

/** op(B)·alpha as [K, N] float64 */
function linearWeight(n: Node): { w: Float64Array; k: number; n: number } | undefined {
  const t = constantOf(n.inputs[1]);
  if (!t || t.dtype !== DataType.FLOAT || t.dims.length !== 2) return undefined;
  const b = t.toFloat32();
  const [r, c] = t.dims as [number, number];
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const alpha = n.opType === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1;
  if (!transB) return { w: Float64Array.from(b, (x) => x * alpha), k: r, n: c };
  const w = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) w[j * r + i] = b[i * c + j]! * alpha;
  return { w, k: c, n: r };
}

/** Explicit pads for one spatial dim (auto_pad SAME_UPPER / SAME_LOWER / VALID / NOTSET). */
export function padsFor(
  autoPad: string,
  size: number,
  k: number,
  s: number,
  d: number,
  given: [number, number],
): [number, number] {
  if (autoPad === 'VALID') return [0, 0];
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') return given;
  const total = Math.max(0, (Math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size);
  const small = Math.floor(total / 2);
  return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
}

/** Output length of a conv along one dim. */
export const convOut = (size: number, k: number, s: number, d: number, pads: [number, number]) =>
  Math.floor((size + pads[0] + pads[1] - d * (k - 1) - 1) / s) + 1;

function convShapeOf(node: Node, dims: number[], shapes: ShapeInference): ConvShape {
  const [cout, cin, kh, kw] = dims as [number, number, number, number];
  const st = attrInts(node, 'strides') ?? [1, 1];
  const dl = attrInts(node, 'dilations') ?? [1, 1];
  const pd = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const x = shapes.types.get(node.inputs[0]!)?.shape;
  const y = shapes.types.get(node.outputs[0]!)?.shape;
  const ho = num(y?.[2], 1);
  const wo = num(y?.[3], 1);
  return {
    cout,
    cin,
    kh,
    kw,
    strides: [st[0]!, st[1]!],
    dilations: [dl[0]!, dl[1]!],
    pads: [pd[0]!, pd[1]!, pd[2]!, pd[3]!],
    autoPad,
    batch: num(y?.[0], 1),
    hi: num(x?.[2], st[0]! * ho),
    wi: num(x?.[3], st[1]! * wo),
    ho,
    wo,
  };
}

/** Every layer the pass may factorize (header, rules 1–2), and what it left alone. */
export function findLayers(
  model: Model,
  minElements: number,
  conv: ConvMode,
  selects: (n: Node) => boolean,
  shapes: ShapeInference,
): { layers: Layer[]; skipped: Skipped } {
  const layers: Layer[] = [];
  const skipped: Skipped = { grouped: 0, otherConv: 0 };
  const main = new Map(model.graph.nodes.map((n, i) => [n, i]));
  for (const graph of model.graph.allGraphs())
    for (const node of graph.nodes) {
      if (node.domain !== '' || !selects(node)) continue;
      const x: Value | undefined = node.inputs[0];
      if (x?.type?.elemType !== undefined && x.type.elemType !== DataType.FLOAT) continue;
      const index = main.get(node);
      if (node.opType === 'MatMul' || (node.opType === 'Gemm' && attrInt(node, 'transA', 0) === 0)) {
        const lw = linearWeight(node);
        if (!lw || lw.k * lw.n < minElements) continue;
        const rows = Math.max(1, (prod(shapes.types.get(node.outputs[0]!)?.shape) ?? lw.n) / lw.n);
        layers.push({
          node,
          kind: 'linear',
          index,
          ...lw,
          rows,
          macs: rows * lw.k * lw.n,
          params: lw.k * lw.n,
          maxRanks: [Math.min(lw.k, lw.n)],
        });
        continue;
      }
      if (node.opType !== 'Conv' || conv === 'none') continue;
      const t = constantOf(node.inputs[1]);
      if (!t || t.dtype !== DataType.FLOAT || t.size < minElements) continue;
      if (t.dims.length !== 4) {
        skipped.otherConv++;
        continue;
      }
      if (attrInt(node, 'group', 1) !== 1) {
        skipped.grouped++;
        continue;
      }
      const c = convShapeOf(node, t.dims as number[], shapes);
      const raw = t.toFloat32();
      const s = c.kh * c.kw;
      const macs = c.batch * c.cout * c.ho * c.wo * c.cin * s;
      const base = { node, index, conv: c, rows: 0, macs, params: raw.length };
      if (s === 1) {
        const w = new Float64Array(c.cin * c.cout); // [Cin, Cout]
        for (let o = 0; o < c.cout; o++)
          for (let i = 0; i < c.cin; i++) w[i * c.cout + o] = raw[o * c.cin + i]!;
        layers.push({
          ...base,
          kind: 'pointwise',
          w,
          k: c.cin,
          n: c.cout,
          maxRanks: [Math.min(c.cin, c.cout)],
        });
      } else if (conv === 'spatial') {
        const k = c.cin * c.kh;
        const n = c.cout * c.kw;
        const w = new Float64Array(k * n); // [(c, i), (o, j)] = W[o, c, i, j]
        for (let o = 0; o < c.cout; o++)
          for (let ci = 0; ci < c.cin; ci++)
            for (let i = 0; i < c.kh; i++)
              for (let j = 0; j < c.kw; j++)
                w[(ci * c.kh + i) * n + o * c.kw + j] = raw[((o * c.cin + ci) * c.kh + i) * c.kw + j]!;
        layers.push({ ...base, kind: 'spatial', w, k, n, maxRanks: [Math.min(k, n)] });
      } else
        layers.push({
          ...base,
          kind: 'tucker',
          w: Float64Array.from(raw),
          k: c.cin,
          n: c.cout,
          maxRanks: [c.cin, c.cout],
        });
    }
  return { layers, skipped };
}

/** MACs and params of a layer at the given ranks (header, rule 3). */
export function costAt(l: Layer, ranks: number[]): { macs: number; params: number } {
  const r = ranks[0]!;
  if (l.kind === 'linear') return { macs: l.rows * r * (l.k + l.n), params: r * (l.k + l.n) };
  const c = l.conv!;
  const out = c.batch * c.ho * c.wo;
  if (l.kind === 'pointwise') return { macs: out * r * (c.cin + c.cout), params: r * (c.cin + c.cout) };
  if (l.kind === 'spatial')
    return {
      macs: c.batch * r * c.ho * c.wi * c.cin * c.kh + out * c.cout * r * c.kw,
      params: r * (c.cin * c.kh + c.cout * c.kw),
    };
  const r2 = ranks[1]!;
  const s = c.kh * c.kw;
  return {
    macs: c.batch * r * c.hi * c.wi * c.cin + out * r2 * r * s + out * c.cout * r2,
    params: r * c.cin + r2 * r * s + c.cout * r2,
  };
}

/** Whether those ranks make the layer smaller and cheaper. */
export function saves(l: Layer, ranks: number[]): boolean {
  const c = costAt(l, ranks);
  return c.macs < l.macs && c.params < l.params;
}
