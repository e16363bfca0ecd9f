// fold-constants: compute what does not depend on the model inputs, once, at optimization time.
//  1. Shape(x) where x's shape is fully static -> int64 initializer (so Shape->Gather->Concat->Reshape
//     chains become constant shapes)
//  2. a node of the default domain whose inputs are all constant (initializers that are not graph
//     inputs, Constant outputs, or outputs of nodes folded in this step) is evaluated, together with
//     every other such node, by ONNX Runtime in one small model; its outputs become initializers
//  3. never folded: random ops, nodes with subgraphs, Q/DQ (folding a DequantizeLinear would undo
//     quantization), and results larger than max(1 MiB, 2 x the node's constant inputs) — expanding a
//     tiny constant into a huge weight makes the file bigger
// Rule 2 needs a runtime (the pass context's); without one only rule 1 applies.

import { attrInt } from '../../ir/builder.js';
import { type Graph, Model, Node, Value } from '../../ir/graph.js';
import { encodeModel } from '../../ir/serialize.js';
import { Tensor } from '../../ir/tensor.js';
import { DataType } from '../../onnx/dtype.js';
import type { HostTensor } from '../../runtime/types.js';
import { definePass, noOptions, result } from '../pass.js';
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

const MIN_LIMIT = 1 << 20;

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
  options: noOptions,
  async apply(model, _options, ctx) {
    let shapes = 0;
    let folded = 0;
    let skippedLarge = 0;
    for (const graph of model.graph.allGraphs()) {
      shapes += foldStaticShapes(graph, (n) => ctx.selects(n));
      if (!ctx.runtime) continue;
      // rule 2: the maximal set of foldable nodes, in order
      const constants = new Set<Value>();
      const nodes: Node[] = [];
      for (const node of graph.nodes) {
        if (!ctx.selects(node) || !isFoldable(node, constants)) continue;
        nodes.push(node);
        for (const o of node.outputs) constants.add(o);
      }
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
          `fold-constants: ONNX Runtime could not evaluate ${nodes.length} constant nodes (${(e as Error).message.split('\n')[0]}); left as they are`,
        );
        continue;
      }
      for (const t of targets) {
        const host = outputs[t.name];
        const tensor = host && hostToTensor(t.name, host);
        if (!tensor) continue;
        const producer = t.producer!;
        const inputBytes = producer.inputs.reduce(
          (s, v) => s + (v ? (constantOf(v)?.byteLength ?? 0) : 0),
          0,
        );
        if (tensor.byteLength > Math.max(MIN_LIMIT, 2 * inputBytes)) {
          skippedLarge++;
          continue;
        }
        replaceWithInitializer(t, tensor);
        folded++;
      }
      removeUnused(graph);
    }
    return result({ shapes, folded, skippedLarge });
  },
});
