// What a gradient rule works with: the graph builder, the static shape of every forward value, small
// constants (Reshape shapes, Slice starts, ...) and opset-aware helpers for the few ops whose
// signature changed across opsets (ReduceSum/ReduceMean axes, Squeeze/Unsqueeze, Split, Clip).
//
// Rules:
//  1. Shapes are static: the step graph is built for one batch size, so every forward value has a
//     concrete shape (from analysis/shape-inference); a rule that meets an unknown shape is an error.
//  2. Constants emitted by rules are initializers, deduplicated by content (one `[0, 2, 3]` axes tensor
//     for every ReduceSum that needs it).
//  3. `unbroadcast` sums a gradient back to an input's shape (numpy broadcasting undone).

import { EdgefitError } from '../errors.js';
import type { GraphBuilder } from '../ir/builder.js';
import type { Model, Node, TensorType, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { DataType } from '../onnx/dtype.js';

export type Shape = number[];

/** What a gradient rule needs to emit backward nodes. */
export class GradContext {
  private readonly constCache = new Map<string, Value>();

  constructor(
    readonly b: GraphBuilder,
    private readonly types: Map<Value, TensorType>,
    private readonly constants: Map<Value, { values: (number | string | null)[] }>,
    /** whether a gradient is wanted for a value (it depends on something trained) */
    readonly needs: (v: Value | undefined) => boolean,
    /** the runtime's NCHWc block size, when the graph will get blocked convolutions (train/nchwc.ts) */
    readonly block?: number,
  ) {}

  get model(): Model {
    return this.b.model;
  }

  get opset(): number {
    return this.model.opset('') ?? 1;
  }

  /** The static shape of a forward value (rule 1). */
  shape(v: Value): Shape {
    const t = this.types.get(v) ?? v.type;
    const s = t?.shape;
    if (!s?.every((d) => typeof d === 'number'))
      throw new EdgefitError(
        'UNSUPPORTED',
        `training needs static shapes: ${v.name} has shape ${s ? `[${s.join(',')}]` : 'unknown'}`,
        'give every input a fixed shape (--shape NAME=D1,D2,...)',
      );
    return s as number[];
  }

  dtype(v: Value): number {
    return (this.types.get(v) ?? v.type)?.elemType ?? 0;
  }

  /** Integer values of a small constant (an initializer, Constant, or statically computed). */
  ints(v: Value | undefined): number[] | undefined {
    if (!v) return undefined;
    if (v.initializer && !v.isGraphInput) return v.initializer.toNumbers();
    const c = this.constants.get(v);
    if (c?.values.every((x) => typeof x === 'number')) return c.values as number[];
    return undefined;
  }

  /** Values of a float constant, when the value is one. */
  floats(v: Value | undefined): number[] | undefined {
    if (!v) return undefined;
    if (v.initializer && !v.isGraphInput) return Array.from(v.initializer.toFloat32());
    const c = this.constants.get(v);
    if (c?.values.every((x) => typeof x === 'number')) return c.values as number[];
    return undefined;
  }

  requireOpset(version: number, what: string): void {
    if (this.opset < version)
      throw new EdgefitError(
        'UNSUPPORTED',
        `the gradient of ${what} needs opset ${version}; the model is opset ${this.opset} and cannot be raised`,
        'convert the model to a newer opset',
      );
  }

  op(
    type: string,
    inputs: (Value | undefined)[],
    attrs: Record<string, unknown> = {},
    floatAttrs?: string[],
  ) {
    return this.b.op(type, inputs, attrs as never, floatAttrs ? { floatAttrs } : {});
  }

  // ---- constants (rule 2)

  private cached(key: string, make: () => Tensor): Value {
    let v = this.constCache.get(key);
    if (!v) {
      v = this.b.weight('grad_const', make());
      this.constCache.set(key, v);
    }
    return v;
  }

  /** A 1-D int64 constant. */
  i64(values: readonly number[]): Value {
    return this.cached(`i64:${values.join(',')}`, () => Tensor.fromInt64('c', [values.length], [...values]));
  }

  /** A float32 scalar constant. */
  scalar(x: number): Value {
    return this.cached(`f32:${x}`, () => Tensor.fromFloat32('c', [], [x]));
  }

  /** A float32 constant of any shape (not deduplicated unless `key` is given). */
  tensor(dims: Shape, values: Float32Array | number[], key?: string): Value {
    if (key) return this.cached(`t:${key}`, () => Tensor.fromFloat32('c', dims, values));
    return this.b.weight('grad_const', Tensor.fromFloat32('c', dims, values));
  }

  /** An int64 constant of any shape. */
  i64Tensor(dims: Shape, values: number[] | BigInt64Array): Value {
    return this.b.weight('grad_const', Tensor.fromInt64('c', dims, values as number[]));
  }

  // ---- opset-aware helpers

  reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
    if (axes.length === 0) return x;
    if (this.opset >= 13) return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceSum', [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceMean', [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  reshape(x: Value, dims: Shape): Value {
    return this.op('Reshape', [x, this.i64(dims)]);
  }

  expand(x: Value, dims: Shape): Value {
    return this.op('Expand', [x, this.i64(dims)]);
  }

  /** Split along `axis` into pieces of the given sizes. */
  split(x: Value, axis: number, sizes: readonly number[]): Value[] {
    const attrs = { axis };
    const node =
      this.opset >= 13
        ? this.b.node('Split', [x, this.i64(sizes)], attrs, { outputs: sizes.length })
        : this.b.node('Split', [x], { ...attrs, split: [...sizes] }, { outputs: sizes.length });
    return node.outputs;
  }

  clip(x: Value, lo: number, hi: number): Value {
    if (this.opset >= 11) return this.op('Clip', [x, this.scalar(lo), this.scalar(hi)]);
    return this.op('Clip', [x], { min: lo, max: hi }, ['min', 'max']);
  }

  /** zeros of a static shape (ConstantOfShape: nothing stored) */
  zeros(dims: Shape): Value {
    return this.op('ConstantOfShape', [this.i64(dims)], {
      value: Tensor.fromFloat32('value', [1], [0]),
    });
  }

  /** float 0/1 from a bool tensor */
  mask(bool: Value): Value {
    return this.op('Cast', [bool], { to: DataType.FLOAT });
  }

  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }

  /** Sum a gradient of shape `from` down to `to` (rule 3). */
  unbroadcast(g: Value, to: Shape, from: Shape): Value {
    if (to.length === from.length && to.every((d, i) => d === from[i])) return g;
    const lead = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
    const summed = this.reduceSum(g, axes, true);
    return this.reshape(summed, to);
  }
}

/** The attribute value of a node as numbers, with a default. */
export function intsOr(node: Node, name: string, fallback: number[]): number[] {
  const a = node.attributes.get(name);
  return a ? a.proto.ints.map(Number) : fallback;
}

/** A rule: gradients of the node's inputs from the gradients of its outputs (undefined = none). */
export type GradRule = (node: Node, dy: (Value | undefined)[], ctx: GradContext) => (Value | undefined)[];

/** The product of a shape's dims. */
export function numel(s: readonly number[]): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

/** Normalize a possibly negative axis. */
export function axisOf(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
