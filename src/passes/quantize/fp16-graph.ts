// quantize-fp16 'graph' mode (rules 1 to 6 of quantize-fp16.ts): every node's status, every float
// value's storage, a Cast wherever a reader wants the other type, then the tensors, attributes and
// declared types of everything that became float16.

import { inferShapes } from '../../analysis/shape-inference.js';
import { GraphBuilder, setAttr } from '../../ir/builder.js';
import { type Graph, type Model, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { PassContext } from '../pass.js';
import { constantNodeTensor } from '../util.js';
import {
  anyTypeInput,
  attributeTypedOutput,
  type Counts,
  convertConstantNode,
  DTYPE_ATTR_OPS,
  FLOAT,
  floatOnlyInput,
  GENERATORS,
  HALF,
  halfTensor,
  isOnnx,
  outputGraphs,
  overflowOf,
  type Tally,
  userBlock,
} from './fp16-rules.js';
import type { Fp16Options } from './quantize-fp16.js';

export function convertGraph(model: Model, o: Fp16Options, ctx: PassContext, tally: Tally): Counts {
  const shapes = inferShapes(model, { defaultDim: null });
  const elem = (v: Value) => shapes.types.get(v)?.elemType || v.type?.elemType || 0;
  const isFloat = (v: Value) => elem(v) === FLOAT;
  const opset = model.opset('') ?? 1;
  const blockedByUser = userBlock(o, ctx);
  const graphs = [...model.graph.allGraphs()];

  // rule 1: overflow, then every node's status (parents first: subgraphs follow their node)
  const overflow = new Map<Value, number>();
  for (const g of graphs) {
    for (const v of g.initializers) {
      const worst = v.isGraphInput ? 0 : overflowOf(v.initializer);
      if (worst) overflow.set(v, worst);
    }
    for (const n of g.nodes) {
      const worst = n.opType === 'Constant' && isOnnx(n) ? overflowOf(constantNodeTensor(n)) : 0;
      if (worst) overflow.set(n.outputs[0]!, worst);
    }
  }
  const typeBlock = (n: Node): string | undefined => {
    const ins = n.inputs.filter((v): v is Value => v !== undefined && v.name !== '');
    const outs = n.outputs.filter((v) => v.name !== '');
    if ([...ins, ...outs].some((v) => elem(v) === 0)) return 'unknownType';
    if (ins.some((v) => overflow.has(v))) return 'overflow';
    if (n.opType === 'ConstantOfShape' && overflowOf(n.attributes.get('value')?.t)) return 'overflow';
    if (outs.some(isFloat) && !ins.some(isFloat) && !(isOnnx(n) && GENERATORS.has(n.opType)))
      return 'untypedOutput';
    return undefined;
  };
  const half = new Map<Node, boolean>();
  const reasons: Record<string, number> = {};
  // counted in the stats: nodes with a float32 tensor, or one of unknown type (it may be float)
  const mayBeFloat = (v: Value | undefined) =>
    v !== undefined && v.name !== '' && [0, FLOAT].includes(elem(v));
  const touchesFloat = (n: Node) => n.outputs.some(mayBeFloat) || n.inputs.some(mayBeFloat);
  const visit = (g: Graph, parentHalf: boolean) => {
    for (const n of g.nodes) {
      const reason = parentHalf ? (blockedByUser(n) ?? typeBlock(n)) : 'parent';
      half.set(n, reason === undefined);
      if (reason && touchesFloat(n) && n.opType !== 'Constant') reasons[reason] = (reasons[reason] ?? 0) + 1;
      for (const sg of n.subgraphs()) visit(sg, reason === undefined);
    }
  };
  visit(model.graph, true);
  let convertedNodes = 0;
  let blockedNodes = 0;
  for (const [n, h] of half) {
    if (n.opType === 'Constant' || !touchesFloat(n)) continue;
    if (h) convertedNodes++;
    else blockedNodes++;
  }
  for (const [v, worst] of overflow) {
    const readers = [...new Set(v.uses.map((u) => u.node.name || u.node.opType))];
    ctx.log.warn(
      `quantize-fp16: weight ${v.name} holds |x| = ${worst.toExponential(3)} > 65504; ` +
        `kept float32 with its readers (${readers.join(', ')})`,
    );
  }

  // rules 2 and 3: what each reader wants, where each value lives
  const graphHalf = (g: Graph) => (g.parentNode ? half.get(g.parentNode) === true : !o.keepIoTypes);
  const want = (n: Node, i: number): number | undefined => {
    if (anyTypeInput(n, i)) return undefined;
    if (!half.get(n) || floatOnlyInput(n, i, opset)) return FLOAT;
    return HALF;
  };
  const outputsOf = outputGraphs(model);
  const outputWantsFloat = (v: Value) => (outputsOf.get(v) ?? []).some((g) => !graphHalf(g));
  const wantsHalf = (v: Value) =>
    v.uses.some((u) => want(u.node, u.index) === HALF) || (outputsOf.get(v) ?? []).some(graphHalf);
  const storage = new Map<Value, number>();
  for (const g of graphs) {
    for (const v of g.inputs) if (isFloat(v)) storage.set(v, graphHalf(g) ? HALF : FLOAT);
    for (const v of g.sparseInitializers) if (isFloat(v)) storage.set(v, FLOAT);
    for (const v of g.initializers) {
      if (v.isGraphInput || !isFloat(v) || v.initializer!.dtype !== FLOAT) continue;
      const h = !overflow.has(v) && !outputWantsFloat(v) && wantsHalf(v);
      storage.set(v, h ? HALF : FLOAT);
    }
    for (const n of g.nodes)
      n.outputs.forEach((v, k) => {
        if (v.name === '' || !isFloat(v)) return;
        let s = HALF;
        if (!half.get(n) || attributeTypedOutput(n, k)) s = FLOAT;
        else if (isOnnx(n) && n.opType === 'Constant')
          s = constantNodeTensor(n)?.dtype === FLOAT && !overflow.has(v) && wantsHalf(v) ? HALF : FLOAT;
        else if (isOnnx(n) && n.opType === 'Cast') s = wantsHalf(v) ? HALF : FLOAT;
        storage.set(v, s);
      });
  }

  // rule 4: Casts at every boundary
  const suffix = (t: number) => (t === HALF ? 'fp16' : 'fp32');
  const typeOf = (v: Value, t: number) => ({ elemType: t, shape: (shapes.types.get(v) ?? v.type)?.shape });
  let castsInserted = 0;
  const cache = new Map<Value, Map<number, Value>>();
  const newCast = (g: Graph, v: Value, to: number, at: number): Value => {
    castsInserted++;
    const out = new GraphBuilder(g).node(
      'Cast',
      [v],
      { to },
      { name: `${v.name}_cast_to_${suffix(to)}`, outputs: [`${v.name}_${suffix(to)}`], at },
    ).outputs[0]!;
    out.setType(typeOf(v, to));
    return out;
  };
  const castOf = (v: Value, to: number): Value => {
    const byType = cache.get(v) ?? new Map<number, Value>();
    cache.set(v, byType);
    let out = byType.get(to);
    if (!out) {
      const g = v.graph;
      const at = v.producer && v.producer.graph === g ? g.nodes.indexOf(v.producer) + 1 : 0;
      out = newCast(g, v, to, at);
      byType.set(to, out);
    }
    return out;
  };
  /** main-graph output `v` keeps its name: the producer writes `<name>_<s>`, a Cast writes `v` */
  const castKeepingName = (v: Value, s: number, w: number) => {
    const g = v.graph;
    const p = v.producer!;
    const inner = new Value(g, model.uniqueName(`${v.name}_${suffix(s)}`), typeOf(v, s));
    p.outputs[v.producerIndex] = inner;
    inner.producer = p;
    inner.producerIndex = v.producerIndex;
    for (const u of [...v.uses]) u.node.setInput(u.index, inner);
    const cast = new Node(g, 'Cast', '', model.uniqueName(`${v.name}_cast_to_${suffix(w)}`));
    cast.addInput(inner);
    setAttr(cast, 'to', w);
    cast.addOutput(v);
    g.insertNode(cast, g.nodes.indexOf(p) + 1);
    castsInserted++;
    if (v.type) v.setType({ elemType: w, shape: v.type.shape });
    storage.set(inner, s);
    storage.set(v, w);
    cache.set(inner, new Map([[w, v]]));
  };
  for (const g of graphs) {
    const w = graphHalf(g) ? HALF : FLOAT;
    g.outputs.forEach((v, k) => {
      const s = storage.get(v);
      if (s === undefined || s === w) return;
      if (g.parentNode) g.outputs[k] = v.graph === g ? castOf(v, w) : newCast(g, v, w, g.nodes.length);
      else if (v.producer && v.producer.graph === g) castKeepingName(v, s, w);
      // else: a weight returned as an output kept float32 for overflow (rule 2)
    });
  }
  for (const [v, s] of [...storage])
    for (const u of [...v.uses]) {
      const w = want(u.node, u.index);
      if (w !== undefined && w !== s) u.node.setInput(u.index, castOf(v, w));
    }

  // rules 5 and 6: tensors, attributes and declared types of everything that became float16
  for (const [v, s] of storage) {
    if (s !== HALF) continue;
    if (v.initializer && v.initializer.dtype === FLOAT) {
      const t = halfTensor(v.initializer, tally);
      v.initializer.setData(t.bytes(), HALF, t.dims);
    }
    const p = v.producer;
    if (p && isOnnx(p)) {
      if (p.opType === 'Constant') convertConstantNode(p, tally);
      else if (p.opType === 'Cast') setAttr(p, 'to', HALF);
      else if (p.opType === 'ConstantOfShape') {
        const t = p.attributes.get('value')?.t ?? Tensor.fromFloat32('value', [1], [0]);
        if (t.dtype === FLOAT) setAttr(p, 'value', halfTensor(t, tally));
      } else if (DTYPE_ATTR_OPS.has(p.opType)) setAttr(p, 'dtype', HALF);
    }
    if (v.type?.elemType === FLOAT) v.setType({ elemType: HALF, shape: v.type.shape });
  }

  const blocked: Record<string, number> = {};
  for (const [r, c] of Object.entries(reasons)) blocked[`blocked_${r}`] = c;
  return { convertedNodes, blockedNodes, castsInserted, overflowWeights: overflow.size, reasons: blocked };
}
