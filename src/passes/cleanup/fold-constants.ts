// fold-constants: compute what does not depend on the model inputs, once, at optimization time.
//  1. Shape(x) where x's shape is fully static -> int64 initializer (so Shape->Gather->Concat->Reshape
//     chains become constant shapes)
//  2. a node of the default domain whose inputs are all constant (initializers that are not graph
//     inputs, Constant outputs, or outputs of nodes folded in this step) is evaluated, together with
//     every other such node, by ONNX Runtime in one small model; its outputs become initializers
//  3. never folded: random ops, nodes with subgraphs, Q/DQ (folding a DequantizeLinear would undo
//     quantization), the expansion of an encoded weight (a codebook's Gather and what unpacks its
//     indices, passes/encoding.ts: folding it would undo clustering; ORT folds it at load)
//  4. bounded before anything runs: shape inference (with constant propagation) must give every
//     output of a folded node a static shape, and none may exceed `maxBytes` (default 256 MiB);
//     nodes beyond it (a ConstantOfShape/Expand/Range/Tile of 1e11 elements) are left as they are,
//     with a warning, and never evaluated
//  5. never larger: the results kept may not add more weight bytes than the constants they leave
//     unused (in any graph: an outer weight read by two If branches dies only when both fold). When
//     all results together would grow the model, the largest are dropped until it does not (Silero
//     VAD slices one LSTM weight in both branches of an If: folding both copies the weight twice).
//     foldGrowing turns this off for a lossy pass that shrinks the results next (quantize-dynamic-int8)
// Rule 2 needs a runtime (the pass context's); without one only rule 1 applies.

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { errorLine } from '../../errors.js';
import { attrInt } from '../../ir/builder.js';
import { type Graph, Model, Node, Value } from '../../ir/graph.js';
import { encodeModel } from '../../ir/serialize.js';
import { Tensor } from '../../ir/tensor.js';
import { DataType, dataTypeBits } from '../../onnx/dtype.js';
import type { HostTensor } from '../../runtime/types.js';
import { encodingNodes } from '../encoding.js';
import { definePass, type PassContext, type PassResult } from '../pass.js';
import { constantOf, isConstant, removeUnused } from '../util.js';

const NEVER_FOLD = new Set([
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'Constant',
  'If',
  'Loop',
  'Scan',
  'SequenceConstruct',
  'SequenceEmpty',
  'Optional',
]);

/** The default cap of one folded tensor (rule 4). */
export const FOLD_MAX_BYTES = 256 * 2 ** 20;

/** Bytes of a value from its (inferred) type; undefined when its shape is not fully static. */
function staticBytes(v: Value): number | undefined {
  const t = v.type;
  if (!t?.shape?.every((d) => typeof d === 'number' && d >= 0)) return undefined;
  const bits = dataTypeBits(t.elemType);
  if (!bits) return undefined;
  return Math.ceil(((t.shape as number[]).reduce((a, b) => a * b, 1) * bits) / 8);
}

const weightBytesOf = (v: Value) => {
  const t = constantOf(v);
  return t && !t.isString ? t.byteLength : 0;
};

/**
 * Rule 5: which targets to keep so that the bytes they add do not exceed the bytes of the constant
 * inputs (`leaves`) that die. A fold node stays alive while a dropped target still needs it.
 */
function keepWithoutGrowth(
  nodes: Node[],
  targets: { value: Value; tensor: Tensor }[],
  leaves: Set<Value>,
): { value: Value; tensor: Tensor }[] {
  const inFold = new Set(nodes);
  const cone = (t: Value): Set<Node> => {
    const seen = new Set<Node>();
    const stack = [t.producer!];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      for (const v of n.inputs) if (v?.producer && inFold.has(v.producer)) stack.push(v.producer);
    }
    return seen;
  };
  const cones = new Map(targets.map((t) => [t.value, cone(t.value)]));
  const growth = (kept: Set<Value>): number => {
    const alive = new Set<Node>();
    for (const t of targets) if (!kept.has(t.value)) for (const n of cones.get(t.value)!) alive.add(n);
    let freed = 0;
    for (const leaf of leaves) {
      if (leaf.isGraphOutput) continue;
      if (leaf.uses.every((u) => inFold.has(u.node) && !alive.has(u.node))) freed += weightBytesOf(leaf);
    }
    let added = 0;
    for (const t of targets) if (kept.has(t.value)) added += t.tensor.byteLength;
    return added - freed;
  };
  const kept = new Set(targets.map((t) => t.value));
  const bySize = [...targets].sort((a, b) => b.tensor.byteLength - a.tensor.byteLength);
  for (const t of bySize) {
    if (growth(kept) <= 0) break;
    kept.delete(t.value);
  }
  return targets.filter((t) => kept.has(t.value));
}

function replaceWithInitializer(v: Value, tensor: Tensor): void {
  const graph = v.graph;
  const c = new Value(graph, graph.model.uniqueName(`${v.name}_folded`));
  graph.addInitializer(c, tensor.clone(c.name));
  c.setType({ elemType: tensor.dtype, shape: [...tensor.dims] });
  v.replaceAllUsesWith(c);
}

/** rule 1 */
function foldStaticShapes(graph: Graph, selects: (n: Node) => boolean): number {
  let n = 0;
  for (const node of [...graph.nodes]) {
    if (node.opType !== 'Shape' || node.domain !== '' || !selects(node)) continue;
    const out = node.outputs[0]!;
    if (out.isGraphOutput) continue;
    const shape = node.inputs[0]?.type?.shape;
    if (!shape?.every((d) => typeof d === 'number')) continue;
    const rank = shape.length;
    const clamp = (i: number) => Math.min(rank, Math.max(0, i < 0 ? i + rank : i));
    const start = clamp(attrInt(node, 'start', 0));
    const end = clamp(attrInt(node, 'end', rank));
    const dims = (shape as number[]).slice(start, Math.max(start, end));
    replaceWithInitializer(out, Tensor.fromInt64(out.name, [dims.length], dims));
    n++;
  }
  return n;
}

function isFoldable(node: Node, constants: Set<Value>): boolean {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return false;
  if (NEVER_FOLD.has(node.opType) || node.subgraphs().length > 0) return false;
  if (node.outputs.some((o) => o.typeProto && o.typeProto.value.case !== 'tensorType')) return false;
  return node.inputs.every((v) => !v || constants.has(v) || isConstant(v));
}

function hostToTensor(name: string, t: HostTensor): Tensor | undefined {
  if (Array.isArray(t.data)) return undefined;
  const src = t.data;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
  if (t.dtype === DataType.BOOL)
    return Tensor.fromBytes(
      name,
      t.dtype,
      t.dims,
      Uint8Array.from(bytes, (b) => (b ? 1 : 0)),
    );
  return Tensor.fromBytes(name, t.dtype, t.dims, bytes);
}

export const foldConstants = definePass({
  id: 'fold-constants',
  summary: 'evaluate subgraphs that do not depend on the inputs, including static shape chains',
  lossless: true,
  options: z
    .object({
      maxBytes: z
        .number()
        .int()
        .min(1)
        .default(FOLD_MAX_BYTES)
        .describe(
          'largest tensor constant folding may build (bytes, from shape inference before evaluating)',
        ),
    })
    .strict(),
  apply: (model, options, ctx) => fold(model, { ...options, growth: false }, ctx),
});

/**
 * Fold the constant subgraphs `ctx.selects` picks even where the results add weight bytes (rule 5
 * off): for a lossy pass that shrinks them right after (quantize-dynamic-int8's LSTM weights).
 */
export function foldGrowing(model: Model, ctx: PassContext): Promise<PassResult> {
  return fold(model, { maxBytes: FOLD_MAX_BYTES, growth: true }, ctx);
}

async function fold(
  model: Model,
  options: { maxBytes: number; growth: boolean },
  ctx: PassContext,
): Promise<PassResult> {
  {
    let shapes = 0;
    let folded = 0;
    let skippedGrowth = 0;
    let skippedCap = 0;
    if (ctx.runtime) inferShapes(model, { defaultDim: null, write: true }); // rule 4 reads the types
    const encodings = encodingNodes(model); // rule 3
    const selects = (n: Node) => ctx.selects(n) && !encodings.has(n);
    for (const graph of model.graph.allGraphs()) {
      shapes += foldStaticShapes(graph, selects);
      if (!ctx.runtime) continue;
      // rule 2: the maximal set of foldable nodes, in order; rule 4: each output bounded beforehand
      const constants = new Set<Value>();
      const nodes: Node[] = [];
      const capped: string[] = [];
      for (const node of graph.nodes) {
        if (!selects(node) || !isFoldable(node, constants)) continue;
        const sizes = node.outputs.map((o) => (o.name ? staticBytes(o) : 0));
        if (sizes.some((b) => b === undefined || b > options.maxBytes)) {
          if (sizes.some((b) => b !== undefined && b > options.maxBytes)) {
            skippedCap++;
            capped.push(`${node.opType} ${node.name || node.outputs[0]?.name}`);
          }
          continue;
        }
        nodes.push(node);
        for (const o of node.outputs) constants.add(o);
      }
      if (capped.length)
        ctx.log.warn(
          `fold-constants: not folding ${capped.length} node(s) whose output would exceed ${options.maxBytes} bytes (${capped.slice(0, 3).join(', ')}); raise the fold-constants maxBytes option to fold them`,
        );
      if (nodes.length === 0) continue;
      const inFold = new Set(nodes);
      const targets = nodes
        .flatMap((n) => n.outputs)
        .filter((o) => o.name && !o.isGraphOutput && o.uses.some((u) => !inFold.has(u.node)));
      if (targets.length === 0) continue;
      // a standalone model: the constant inputs as initializers, the foldable nodes, the targets as outputs
      const sub = new Model();
      sub.irVersion = model.irVersion;
      for (const [d, v] of model.opsetImports) sub.opsetImports.set(d, v);
      const g = sub.graph;
      const map = new Map<Value, Value>();
      const get = (v: Value): Value => {
        let c = map.get(v);
        if (!c) {
          c = new Value(g, v.name, v.type);
          map.set(v, c);
          const t = constantOf(v);
          if (t && !inFold.has(v.producer!)) g.addInitializer(c, t.clone(v.name));
        }
        return c;
      };
      for (const n of nodes) {
        const c = new Node(g, n.opType, n.domain, n.name);
        for (const [k, a] of n.attributes) c.attributes.set(k, a);
        for (const v of n.inputs) c.addInput(v ? get(v) : undefined);
        for (const o of n.outputs) c.addOutput(get(o));
        g.nodes.push(c);
      }
      for (const t of targets) g.outputs.push(map.get(t)!);
      let outputs: Record<string, HostTensor>;
      try {
        const session = await ctx.runtime.createSession(encodeModel(sub), { optimization: 'disabled' });
        try {
          outputs = await session.run({});
        } finally {
          await session.release();
        }
      } catch (e) {
        ctx.log.warn(
          `fold-constants: ONNX Runtime could not evaluate ${nodes.length} constant nodes (${errorLine(e)}); left as they are`,
        );
        continue;
      }
      const computed: { value: Value; tensor: Tensor }[] = [];
      for (const t of targets) {
        const host = outputs[t.name];
        const tensor = host && hostToTensor(t.name, host);
        if (tensor) computed.push({ value: t, tensor });
      }
      const leaves = new Set<Value>();
      for (const n of nodes)
        for (const v of n.inputs) if (v && !(v.producer && inFold.has(v.producer))) leaves.add(v);
      const kept = options.growth ? computed : keepWithoutGrowth(nodes, computed, leaves); // rule 5
      skippedGrowth += computed.length - kept.length;
      for (const { value, tensor } of kept) {
        replaceWithInitializer(value, tensor);
        folded++;
      }
      removeUnused(graph);
      // constants of enclosing graphs that only the folded nodes read
      for (const leaf of leaves) {
        if (leaf.uses.length > 0 || leaf.isGraphInput || leaf.isGraphOutput) continue;
        if (leaf.initializer) leaf.graph.removeInitializer(leaf);
        else if (leaf.producer?.opType === 'Constant') leaf.graph.removeNode(leaf.producer);
      }
    }
    return { changed: shapes + folded > 0, stats: { shapes, folded, skippedGrowth, skippedCap } };
  }
}
