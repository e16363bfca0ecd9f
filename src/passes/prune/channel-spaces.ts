// Channel spaces of prune-channels: which values carry the same channels, which ops touch them, and
// the slicing that removes channels from a tensor.
//  1. values whose axis 1 (NCHW; the feature axis of 2-D values) carries the same channels are
//     joined with union-find. A Conv (group 1) or a Gemm/MatMul with constant weights starts a new
//     space at its output; depthwise Conv, BatchNormalization, Relu/Clip/LeakyRelu/Sigmoid, pooling,
//     Dropout/Identity, Flatten of a 1×1 map and Add/Mul/Sub/Div of two activations (residual
//     connections) keep the space of their inputs — joining them where they meet
//  2. a space is frozen (left whole) when it reaches anything else: a graph input or output, Concat,
//     Reshape, Transpose, Softmax, a grouped (non-depthwise) Conv, a constant that is not per-channel, ...
//  3. entries: the ops that must change when a channel goes — producers ('conv-out', 'fc-out'),
//     consumers ('conv-in', 'fc-in'), and per-channel ops inside the space ('dw', 'bn', 'const')

import { attrInt } from '../../ir/builder.js';
import type { Graph, Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { constantOf, replaceInputWeight } from '../util.js';

export type Role = 'conv-out' | 'conv-in' | 'dw' | 'bn' | 'const' | 'fc-out' | 'fc-in';

export interface Entry {
  node: Node;
  role: Role;
  /** input index of the sliced constant for 'const' */
  index?: number;
}

export class Spaces {
  private parent: number[] = [];
  readonly of = new Map<Value, number>();
  readonly frozen = new Set<number>();
  readonly entries = new Map<number, Entry[]>();

  fresh(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    while (this.parent[a] !== a) {
      this.parent[a] = this.parent[this.parent[a]!]!;
      a = this.parent[a]!;
    }
    return a;
  }
  union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[rb] = ra;
    return ra;
  }
  spaceOf(v: Value): number {
    let s = this.of.get(v);
    if (s === undefined) {
      s = this.fresh();
      this.of.set(v, s);
    }
    return s;
  }
  freeze(v: Value | undefined): void {
    if (v) this.frozen.add(this.spaceOf(v));
  }
  add(v: Value, e: Entry): void {
    const s = this.spaceOf(v);
    const list = this.entries.get(s) ?? [];
    list.push(e);
    this.entries.set(s, list);
  }
}

export const SAME_SPACE = new Set([
  'Relu',
  'Clip',
  'LeakyRelu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Dropout',
  'Identity',
]);
export const BINARY = new Set(['Add', 'Mul', 'Sub', 'Div']);

export const isActivation = (v: Value | undefined) => !!v && !constantOf(v);

export function floatConst(v: Value | undefined) {
  const t = constantOf(v);
  return t && t.dtype === DataType.FLOAT ? t : undefined;
}

/** rules 1, 2: build the channel spaces of one graph */
export function analyse(graph: Graph): Spaces {
  const sp = new Spaces();
  for (const v of graph.inputs) sp.freeze(v);
  for (const n of graph.nodes) {
    const x = n.inputs[0];
    const y = n.outputs[0];
    const known = n.domain === '' && y;
    if (known && n.opType === 'Conv' && floatConst(n.inputs[1]) && isActivation(x)) {
      const w = floatConst(n.inputs[1])!;
      const group = attrInt(n, 'group', 1);
      if (group === 1) {
        sp.add(x!, { node: n, role: 'conv-in' });
        sp.add(y!, { node: n, role: 'conv-out' });
      } else if (group === w.dims[0] && w.dims[1] === 1) {
        sp.union(sp.spaceOf(x!), sp.spaceOf(y!));
        sp.add(y!, { node: n, role: 'dw' });
      } else {
        sp.freeze(x);
        sp.freeze(y);
      }
    } else if (
      known &&
      (n.opType === 'Gemm' || n.opType === 'MatMul') &&
      floatConst(n.inputs[1])?.dims.length === 2 &&
      isActivation(x) &&
      (n.opType === 'MatMul' ? x!.type?.shape?.length === 2 : attrInt(n, 'transA', 0) === 0)
    ) {
      const c = n.inputs[2] ? floatConst(n.inputs[2]) : undefined;
      sp.add(x!, { node: n, role: 'fc-in' });
      // a bias must be per-feature (or absent) for the output to be prunable
      if (n.inputs[2] && c?.dims.length !== 1) sp.freeze(y);
      else sp.add(y!, { node: n, role: 'fc-out' });
    } else if (
      known &&
      n.opType === 'BatchNormalization' &&
      isActivation(x) &&
      [1, 2, 3, 4].every((i) => floatConst(n.inputs[i]))
    ) {
      sp.union(sp.spaceOf(x!), sp.spaceOf(y!));
      sp.add(y!, { node: n, role: 'bn' });
      for (const o of n.outputs.slice(1)) if (o.uses.length || o.isGraphOutput) sp.freeze(y);
    } else if (
      known &&
      SAME_SPACE.has(n.opType) &&
      isActivation(x) &&
      n.inputs.slice(1).every((v) => !v || constantOf(v))
    ) {
      sp.union(sp.spaceOf(x!), sp.spaceOf(y!));
      if (n.outputs.length > 1 && n.outputs[1]!.uses.length) sp.freeze(y);
    } else if (
      known &&
      n.opType === 'Flatten' &&
      isActivation(x) &&
      attrInt(n, 'axis', 1) === 1 &&
      x!.type?.shape?.length === 4 &&
      x!.type.shape[2] === 1 &&
      x!.type.shape[3] === 1
    ) {
      sp.union(sp.spaceOf(x!), sp.spaceOf(y!));
    } else if (known && BINARY.has(n.opType) && n.inputs.length === 2) {
      const [a, b] = n.inputs as [Value, Value];
      if (isActivation(a) && isActivation(b)) {
        const ra = a.type?.shape?.length;
        const rb = b.type?.shape?.length;
        if (ra !== undefined && ra === rb && ra >= 2)
          sp.union(sp.union(sp.spaceOf(a), sp.spaceOf(b)), sp.spaceOf(y!));
        else for (const v of [a, b, y]) sp.freeze(v);
      } else {
        const act = isActivation(a) ? a : b;
        const k = isActivation(a) ? 1 : 0;
        const c = floatConst(n.inputs[k]);
        const rank = act.type?.shape?.length;
        // a scalar keeps the space as it is; a per-channel constant [C,1,1] / [1,C,1,1] is sliced
        if (c && c.size === 1) sp.union(sp.spaceOf(act), sp.spaceOf(y!));
        else if (
          c &&
          rank !== undefined &&
          rank >= 2 &&
          c.dims.length >= rank - 1 &&
          c.dims.filter((d) => d !== 1).length === 1 &&
          c.dims[c.dims.length - (rank - 1)] !== 1
        ) {
          sp.union(sp.spaceOf(act), sp.spaceOf(y!));
          sp.add(y!, { node: n, role: 'const', index: k });
        } else {
          sp.freeze(act);
          sp.freeze(y);
        }
      }
    } else {
      // rule 2: anything else that reads or writes a space freezes it
      for (const v of n.inputs) if (isActivation(v)) sp.freeze(v);
      for (const v of n.outputs) sp.freeze(v);
    }
  }
  for (const v of graph.outputs) sp.freeze(v);
  return sp;
}

/** slice a float tensor along `axis`, keeping the listed indices */
export function slice(
  data: Float32Array,
  dims: number[],
  axis: number,
  keep: number[],
): { dims: number[]; data: Float32Array } {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis]!;
  const out = new Float32Array(outer * keep.length * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < keep.length; j++) {
      const k = keep[j]!;
      out.set(data.subarray((o * n + k) * inner, (o * n + k + 1) * inner), (o * keep.length + j) * inner);
    }
  const d = [...dims];
  d[axis] = keep.length;
  return { dims: d, data: out };
}

export function sliceInput(n: Node, index: number, axis: number, keep: number[]): void {
  const t = floatConst(n.inputs[index])!;
  const s = slice(t.toFloat32(), t.dims, axis, keep);
  replaceInputWeight(n, index, s.dims, s.data, 'pruned');
}
