// prune-channels: structured pruning that physically removes channels, so shapes shrink and ONNX
// Runtime does less work (unlike zeros, which no CPU kernel exploits).
//  1. channel spaces: values whose axis 1 (NCHW; the feature axis of 2-D values) carries the same
//     channels are joined with union-find. A Conv (group 1) or a Gemm/MatMul with constant weights starts
//     a new space at its output; depthwise Conv, BatchNormalization, Relu/Clip/LeakyRelu/Sigmoid, pooling,
//     Dropout/Identity, Flatten of a 1×1 map and Add/Mul/Sub/Div of two activations (residual
//     connections) keep the space of their inputs — joining them where they meet
//  2. a space is frozen (left whole) when it reaches anything else: a graph input or output, Concat,
//     Reshape, Transpose, Softmax, a grouped (non-depthwise) Conv, a constant that is not per-channel, ...
//  3. a prunable space has only Conv/Gemm/MatMul producers; channel importance = the sum over its
//     producers of the filter's L1 norm divided by that producer's mean filter norm
//  4. the lowest fraction S of each space's channels goes (at least one stays; the kept count is rounded
//     up to a multiple of roundTo when asked: 16 suits ORT's blocked kernels); every weight, bias,
//     BatchNorm parameter and per-channel constant that touches the space is sliced, depthwise groups
//     shrink with it

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { attrInt, setAttr } from '../../ir/builder.js';
import type { Graph, Node, Value } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { weightCensus } from '../reasons.js';
import { constantOf, replaceInputWeight } from '../util.js';

const options = z
  .object({
    sparsity: z
      .number()
      .min(0)
      .max(0.95)
      .default(0.3)
      .describe('fraction of the channels removed from each prunable channel group'),
    minChannels: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe('leave channel groups with fewer channels whole'),
    /**
     * 1 (the default) removes exactly the fraction S (docs/CLI.md); 16 is what ONNX Runtime's fast blocked
     * (NCHWc) convolutions want — on cnn-wide, 45/90 channels ran only 1.09x faster than 64/128 while
     * 48/96 ran 1.73x faster (docs/ORT-NOTES.md)
     */
    roundTo: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(1)
      .describe('round kept channel counts up to a multiple of this (16 suits ORT CPU convolutions)'),
  })
  .strict();

type Role = 'conv-out' | 'conv-in' | 'dw' | 'bn' | 'const' | 'fc-out' | 'fc-in';

interface Entry {
  node: Node;
  role: Role;
  /** input index of the sliced constant for 'const' */
  index?: number;
}

class Spaces {
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

const SAME_SPACE = new Set([
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
const BINARY = new Set(['Add', 'Mul', 'Sub', 'Div']);

const isActivation = (v: Value | undefined) => !!v && !constantOf(v);

function floatConst(v: Value | undefined) {
  const t = constantOf(v);
  return t && t.dtype === DataType.FLOAT ? t : undefined;
}

/** rules 1, 2: build the channel spaces of one graph */
function analyse(graph: Graph): Spaces {
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
function slice(
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

function sliceInput(n: Node, index: number, axis: number, keep: number[]): void {
  const t = floatConst(n.inputs[index])!;
  const s = slice(t.toFloat32(), t.dims, axis, keep);
  replaceInputWeight(n, index, s.dims, s.data, 'pruned');
}

/** rule 3: per-channel importance, or undefined when a producer cannot be measured */
function importance(entries: Entry[], channels: number): Float64Array {
  const score = new Float64Array(channels);
  for (const e of entries) {
    if (e.role !== 'conv-out' && e.role !== 'fc-out') continue;
    const t = floatConst(e.node.inputs[1])!;
    const w = t.toFloat32();
    const norms = new Float64Array(channels);
    if (e.role === 'conv-out') {
      const per = w.length / channels;
      for (let c = 0; c < channels; c++) for (let i = 0; i < per; i++) norms[c]! += Math.abs(w[c * per + i]!);
    } else {
      const transB = e.node.opType === 'Gemm' && attrInt(e.node, 'transB', 0) === 1;
      const [r, cols] = t.dims as [number, number];
      for (let i = 0; i < r; i++)
        for (let j = 0; j < cols; j++) norms[transB ? i : j]! += Math.abs(w[i * cols + j]!);
    }
    const mean = norms.reduce((a, b) => a + b, 0) / channels || 1;
    for (let c = 0; c < channels; c++) score[c]! += norms[c]! / mean;
  }
  return score;
}

function channelCount(entries: Entry[]): number | undefined {
  for (const e of entries) {
    const t = floatConst(e.node.inputs[1]);
    if (!t) continue;
    if (e.role === 'conv-out' || e.role === 'dw') return t.dims[0];
    if (e.role === 'conv-in') return t.dims[1]; // group 1
    const transB = e.node.opType === 'Gemm' && attrInt(e.node, 'transB', 0) === 1;
    if (e.role === 'fc-out') return transB ? t.dims[0] : t.dims[1];
    if (e.role === 'fc-in') return transB ? t.dims[1] : t.dims[0];
  }
  return undefined;
}

export const pruneChannels = definePass({
  id: 'prune-channels',
  summary: 'structured pruning: remove the least important channels of conv and dense layers (shapes shrink)',
  lossless: false,
  options,
  searchSpace: { sparsity: [0.2, 0.3, 0.5] },
  apply(model, o, ctx) {
    let spacesPruned = 0;
    let removed = 0;
    const graph = model.graph;
    inferShapes(model, { defaultDim: null, write: true }); // ranks decide which ops keep a space
    const sp = analyse(graph);
    const groups = new Map<number, Entry[]>();
    for (const [s, list] of sp.entries) {
      const r = sp.find(s);
      groups.set(r, [...(groups.get(r) ?? []), ...list]);
    }
    const frozen = new Set([...sp.frozen].map((s) => sp.find(s)));
    const why = { frozen: 0, few: 0, spaces: 0 };
    for (const [root, entries] of groups) {
      const producers = entries.filter((e) => e.role === 'conv-out' || e.role === 'fc-out');
      if (producers.length) why.spaces++;
      if (frozen.has(root)) {
        if (producers.length) why.frozen++;
        continue;
      }
      if (producers.length === 0 || !entries.every((e) => ctx.selects(e.node))) continue;
      // every value of the space must be produced by a producer or flow from one (no graph input)
      const channels = channelCount(entries);
      if (!channels || channels < o.minChannels) {
        why.few++;
        continue;
      }
      const wanted = Math.max(1, channels - Math.floor(o.sparsity * channels));
      const kept =
        channels >= o.roundTo ? Math.min(channels, Math.ceil(wanted / o.roundTo) * o.roundTo) : wanted;
      const drop = channels - kept;
      if (drop <= 0) continue;
      const score = importance(entries, channels);
      const order = Array.from({ length: channels }, (_, i) => i).sort(
        (a, b) => score[a]! - score[b]! || a - b,
      );
      const keep = order.slice(drop).sort((a, b) => a - b);
      for (const e of entries) {
        const n = e.node;
        const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
        switch (e.role) {
          case 'conv-out':
            sliceInput(n, 1, 0, keep);
            if (n.inputs[2]) sliceInput(n, 2, 0, keep);
            break;
          case 'conv-in':
            sliceInput(n, 1, 1, keep);
            break;
          case 'dw':
            sliceInput(n, 1, 0, keep);
            if (n.inputs[2]) sliceInput(n, 2, 0, keep);
            setAttr(n, 'group', keep.length);
            break;
          case 'bn':
            for (let i = 1; i <= 4; i++) sliceInput(n, i, 0, keep);
            break;
          case 'const': {
            const t = floatConst(n.inputs[e.index!])!;
            const axis = t.dims.findIndex((d) => d !== 1);
            sliceInput(n, e.index!, axis, keep);
            break;
          }
          case 'fc-out':
            sliceInput(n, 1, transB ? 0 : 1, keep);
            if (n.inputs[2]) sliceInput(n, 2, 0, keep);
            break;
          case 'fc-in':
            sliceInput(n, 1, transB ? 1 : 0, keep);
            break;
        }
      }
      // intermediate types now have fewer channels: drop the stale ones (inference recomputes them)
      for (const [v, s] of sp.of)
        if (sp.find(s) === root && !v.isGraphOutput && !v.isGraphInput)
          v.setType(v.type ? { elemType: v.type.elemType, shape: undefined } : undefined);
      spacesPruned++;
      removed += drop;
    }
    if (!spacesPruned) {
      const census = weightCensus(model, 0, ctx.selects);
      const reasons = [
        census.quantizedOp &&
          `the model is already quantized (it has ${census.quantizedOp}); prune the float model`,
        why.frozen &&
          `${why.frozen} of ${why.spaces} channel group(s) reach a graph output, Concat, Reshape, Transpose, Softmax, a grouped Conv or a non-per-channel constant, so their channel count is fixed`,
        why.few && `${why.few} group(s) have fewer than ${o.minChannels} channels`,
        !why.spaces &&
          'the model has no Conv, Gemm or MatMul with constant weights that starts a channel group',
        census.recurrent && `${census.recurrent} LSTM/GRU layer(s) are not channel-pruned`,
      ].filter(Boolean);
      ctx.log.warn(
        `prune-channels removed 0 channels: ${reasons.join('; ')} (use --pattern unstructured to zero weights instead)`,
      );
    }
    return { changed: spacesPruned > 0, stats: { groups: spacesPruned, channelsRemoved: removed } };
  },
});
