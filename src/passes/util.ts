// Edits most passes share: reading constants, bypassing a node, pruning what nothing uses; reading
// collected activations as float32.

import { z } from 'zod';
import { attrFloat, attrInts } from '../ir/builder.js';
import { type Graph, type Node, Value } from '../ir/graph.js';
import { Tensor, viewBytes } from '../ir/tensor.js';
import { DataType } from '../onnx/dtype.js';
import type { HostTensor } from '../runtime/types.js';

/** The Constant node's tensor (value, value_float(s), value_int(s)); undefined for sparse/string forms. */
export function constantNodeTensor(node: Node): Tensor | undefined {
  const out = node.outputs[0]?.name ?? '';
  const a = node.attributes;
  if (a.get('value')?.t) return a.get('value')!.t;
  if (a.has('value_float')) return Tensor.fromFloat32(out, [], [attrFloat(node, 'value_float', 0)]);
  if (a.has('value_floats'))
    return Tensor.fromFloat32(
      out,
      [a.get('value_floats')!.proto.floats.length],
      a.get('value_floats')!.proto.floats,
    );
  if (a.has('value_int')) return Tensor.fromInt64(out, [], [a.get('value_int')!.proto.i]);
  if (a.has('value_ints')) {
    const ints = attrInts(node, 'value_ints')!;
    return Tensor.fromInt64(out, [ints.length], a.get('value_ints')!.proto.ints);
  }
  return undefined;
}

/**
 * The constant tensor a value holds: an initializer that is not also a graph input (those can be
 * overridden at run time), or the output of a Constant node.
 */
export function constantOf(v: Value | undefined): Tensor | undefined {
  if (!v) return undefined;
  if (v.initializer && !v.isGraphInput) return v.initializer;
  if (v.producer?.opType === 'Constant' && v.producer.domain === '') return constantNodeTensor(v.producer);
  return undefined;
}

export function isConstant(v: Value | undefined): boolean {
  return constantOf(v) !== undefined;
}

/**
 * Make every reader of `from` read `to` instead. When `from` is a graph output its name must survive:
 * then `to` takes over the name if it is a plain intermediate of the same graph; otherwise nothing
 * changes and false is returned.
 */
export function replaceValue(from: Value, to: Value): boolean {
  if (from === to) return true;
  if (from.isGraphOutput) {
    const renamable =
      to.graph === from.graph &&
      to.producer !== undefined &&
      !to.isGraphOutput &&
      !to.isGraphInput &&
      !to.initializer;
    if (!renamable) return false;
    const name = from.name;
    from.replaceAllUsesWith(to);
    from.name = `${name}__replaced`;
    to.name = name;
    if (from.type) to.setType(from.type);
    to.typeProto = from.typeProto;
    to.docString = from.docString;
    return true;
  }
  from.replaceAllUsesWith(to);
  return true;
}

/** Bypass a single-output node whose output equals input `index`; removes it. */
export function bypassNode(node: Node, index = 0): boolean {
  const input = node.inputs[index];
  const output = node.outputs[0];
  if (!input || !output) return false;
  if (!replaceValue(output, input)) return false;
  for (const o of node.outputs) if (o.uses.length > 0 || o.isGraphOutput) return true; // other outputs still used
  node.graph.removeNode(node);
  return true;
}

/** Remove nodes whose outputs nothing reads, and initializers nothing reads (not graph inputs). */
export function removeUnused(graph: Graph): { nodes: number; initializers: number } {
  let nodes = 0;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (n.outputs.every((o) => o.uses.length === 0 && !o.isGraphOutput) && !hasSideEffects(n)) {
      graph.removeNode(n);
      nodes++;
    }
  }
  let initializers = 0;
  for (const v of [...graph.initializers])
    if (v.uses.length === 0 && !v.isGraphOutput && !v.isGraphInput) {
      graph.removeInitializer(v);
      initializers++;
    }
  return { nodes, initializers };
}

/** Ops whose execution matters even when nothing reads them (none in ai.onnx inference; custom domains are kept). */
function hasSideEffects(n: Node): boolean {
  return n.domain !== '' && n.domain !== 'ai.onnx' && n.domain !== 'com.microsoft';
}

/**
 * Whether `name` matches `glob` (`*` any run of characters, `?` one character, anything else
 * literal). Linear in practice and O(|glob| × |name|) at worst: one backtrack point (the last `*`)
 * instead of a backtracking regular expression, so `a*a*a*a*a*a*a*a*b` against a long name is instant.
 */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1; // position in glob just after the last `*` seen
  let resume = 0; // position in name where that `*` would next stop
  while (n < name.length) {
    const c = glob[g];
    if (c === '*') {
      star = ++g;
      resume = n;
    } else if (c !== undefined && (c === '?' || c === name[n])) {
      g++;
      n++;
    } else if (star >= 0) {
      g = star;
      n = ++resume;
    } else return false;
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

/** A node matches when its op type equals a pattern or its name matches a pattern as a glob. */
export function nodeMatcher(patterns: readonly string[] | undefined): (n: Node) => boolean {
  if (!patterns || patterns.length === 0) return () => true;
  const list = [...patterns];
  return (n) => list.includes(n.opType) || list.some((p) => globMatch(p, n.name));
}

/** A new float32 initializer (weights may be shared, so passes never edit one in place). */
export function newFloatWeight(graph: Graph, base: string, dims: number[], data: Float32Array): Value {
  const name = graph.model.uniqueName(base);
  const v = new Value(graph, name, { elemType: DataType.FLOAT, shape: [...dims] });
  graph.addInitializer(v, Tensor.fromBytes(name, DataType.FLOAT, dims, viewBytes(data)));
  return v;
}

/** Point input `index` of `node` at a new float32 initializer derived from the old one's name. */
export function replaceInputWeight(
  node: Node,
  index: number,
  dims: number[],
  data: Float32Array,
  suffix: string,
): void {
  node.setInput(index, newFloatWeight(node.graph, `${node.inputs[index]!.name}_${suffix}`, dims, data));
}

/** float32 view of a host tensor (copies non-float data) */
export function asFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (Array.isArray(t.data)) throw new Error('string tensor');
  return Float32Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** An option of one of `values` with its default and help text (pass schemas). */
export function choice<const T extends readonly [string, ...string[]]>(
  values: T,
  fallback: T[number],
  text: string,
) {
  return z
    .enum(values)
    .default(fallback as never)
    .describe(text);
}

/** How many calibration samples a data-aware pass uses at most (pass schemas). */
export function samplesOption(fallback: number, text: string) {
  return z.number().int().min(1).max(100000).default(fallback).describe(text);
}
