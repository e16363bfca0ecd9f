// quantize-fp16: store (and, in 'graph' mode, type) a float32 model as float16, the way
// onnxconverter-common's float16 / ORT's transformers float16 do (ORT.md §4.1), but with every edge
// type-consistent and every Cast placed in topological order. On x86 and WASM, ORT has almost no fp16
// compute kernels. It casts fp16 nodes back to float when it loads the model (ORT.md §1.6, §4.2), so
// this pass makes the file smaller, not faster. 'weights' mode says so openly: it stores the weights as
// fp16 and puts a Cast(to=FLOAT) after each one. ORT folds those Casts at load, so the model runs at
// fp32 speed and is half the size (§8.5).
//
// 'graph' mode:
//  1. A node stays float32 ("blocked") when an enclosing If/Loop/Scan is blocked; the step's node selector
//     does not pick it; `blockOps` names its op ("Op", "domain::Op", "domain::*", "*::*" = any domain but
//     ai.onnx); `blockNodes` names it (name glob or op type); a tensor it reads or writes has an unknown
//     type (sequences, ops shape inference does not know); it reads a constant with a finite
//     |x| > 65504 (fp16 would turn it into Inf: "overflow"); or it writes a float tensor without reading
//     one and is not a generator (Constant, ConstantOfShape, Cast, EyeLike, Random*, If/Loop/Scan).
//     Every other node is converted.
//  2. A float32 value's storage: main-graph inputs stay float32 while keepIoTypes; subgraph inputs follow
//     their If/Loop/Scan; outputs of blocked nodes are float32; outputs of converted nodes are float16,
//     except outputs typed by an attribute (LayerNormalization's Mean/InvStdDev follow stash_type);
//     weights, Constant and Cast(to=FLOAT) outputs are float16 when some reader wants float16 (a weight
//     with overflow, or one that a float32 graph output returns, stays float32).
//  3. What a reader wants: Cast/CastLike/Shape/Size input 0 accepts any type; a blocked node wants float32;
//     a converted node wants float16, except at inputs the spec types as float only (Resize `scales`).
//     Graph outputs want what rule 2 gives their graph's inputs.
//  4. When storage and want differ, a Cast goes right after the producer (at the top of the graph for
//     inputs and weights). There is one Cast per value and target type. A main-graph output keeps its name:
//     its producer writes `<name>_fp16` (`_fp32` when blocked) and the Cast writes `<name>`.
//  5. Values round to nearest even. 0 < |x| < 2^-24 becomes ±2^-24, not 0 (ORT's min_positive_val).
//     The node's attributes are converted with it: Cast `to`, ConstantOfShape `value`, Constant
//     `value`/`value_float(s)`, and the `dtype` of EyeLike and Random*.
//  6. Every declared tensor(float) type that became float16 is rewritten. This covers value_info and the
//     inputs and outputs of subgraphs.
// 'weights' mode:
//  7. A float32 weight (an initializer or a Constant) is stored as float16 and read through
//     Cast(to=FLOAT) placed right after it, when:
//     - it has at least MIN_WEIGHT_ELEMENTS elements (for smaller tensors the Cast costs more bytes than it
//       saves),
//     - its values are in the fp16 range,
//     - it is not a graph output,
//     - every node that reads it could be converted by rule 1's user choices (selector, blockOps,
//       blockNodes), and none reads it at a float-only input.
//     Activations, inputs and outputs stay float32.

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { EdgefitError } from '../../errors.js';
import { GraphBuilder, setAttr } from '../../ir/builder.js';
import { type Graph, type Model, Node, Value } from '../../ir/graph.js';
import { modelCounts } from '../../ir/stats.js';
import { Tensor, viewBytes } from '../../ir/tensor.js';
import { float32ToFloat16Bits } from '../../kernels/float16.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass, type PassContext, type PassResult } from '../pass.js';
import { constantNodeTensor, nodeMatcher } from '../util.js';

const FLOAT: number = DataType.FLOAT;
const HALF: number = DataType.FLOAT16;
const HALF_MAX = 65504;
const HALF_MIN_SUBNORMAL = 2 ** -24;
const HALF_MIN_NORMAL = 2 ** -14;
/** 'weights' mode leaves smaller tensors (scalars, eps, scales) float32: a Cast node outweighs them */
export const MIN_WEIGHT_ELEMENTS = 16;

const words = (s: string) => s.split(' ');

/**
 * Ops kept float32 by default (rule 1). Some of them follow ORT's DEFAULT_OP_BLOCK_LIST, which is what
 * users of its converter expect. Others are there because the ONNX type constraints leave no float16, or
 * because an attribute sets the output type.
 */
export const DEFAULT_BLOCK_OPS: readonly string[] = [
  // Any op outside ai.onnx (ai.onnx.ml, com.microsoft, custom): type rules and kernels we cannot check.
  '*::*',
  // The spec offers no float16 here: Range (T excludes float16), NonMaxSuppression (boxes and thresholds
  // are float only), TfIdfVectorizer (output is float only), Upsample (deprecated; scales are float only),
  // CumSum (no float16 before opset 14).
  ...words('Range NonMaxSuppression TfIdfVectorizer Upsample CumSum'),
  // Sampling and windows. An attribute picks the output type, and fp16 sampling changes the distribution.
  ...words('RandomNormal RandomUniform RandomNormalLike RandomUniformLike Bernoulli Multinomial'),
  ...words('HannWindow HammingWindow BlackmanWindow MelWeightMatrix'),
  // Quantization: scales are float32 only before opset 19/21.
  ...words('QuantizeLinear DequantizeLinear DynamicQuantizeLinear QLinearConv QLinearMatMul'),
  // ORT's converter keeps these float: fp16 kernels that are missing or inaccurate.
  ...words('TopK RoiAlign Min Max'),
  // ORT 1.30's CPU provider has no float16 kernel (or type support) for these — found by running the
  // ONNX backend test corpus through this pass (bench/quantize-corpus.ts).
  ...words('Celu IsInf IsNaN EyeLike MeanVarianceNormalization'),
];

const fp16Options = z
  .object({
    /** 'graph': compute in float16 wherever types allow; 'weights': fp16 weights + Cast to float (fp32 speed) */
    mode: z.enum(['graph', 'weights']).default('graph'),
    /** graph mode: main-graph float inputs/outputs stay float32 behind Casts ('weights' never changes them) */
    keepIoTypes: z.boolean().default(true),
    /** op types kept float32: "Op", "domain::Op", "domain::*", "*::*" (every op outside ai.onnx) */
    blockOps: z.array(z.string()).default([...DEFAULT_BLOCK_OPS]),
    /** nodes kept float32: name globs ("/encoder/*") or op types */
    blockNodes: z.array(z.string()).default([]),
  })
  .strict();

export type Fp16Options = z.infer<typeof fp16Options>;

const isOnnx = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';

/** blockOps entries: "Op" (any domain), "domain::Op", "domain::*", "*::Op" / "*::*" (outside ai.onnx) */
function opMatcher(patterns: readonly string[]): (n: Node) => boolean {
  const rules = patterns.map((p) => {
    const k = p.indexOf('::');
    return k < 0 ? { domain: undefined, op: p } : { domain: p.slice(0, k), op: p.slice(k + 2) };
  });
  return (n) => {
    const domain = isOnnx(n) ? 'ai.onnx' : n.domain;
    return rules.some(
      (r) =>
        (r.op === '*' || r.op === n.opType) &&
        (r.domain === undefined ||
          (r.domain === '*' ? domain !== 'ai.onnx' : (r.domain || 'ai.onnx') === domain)),
    );
  };
}

/** Rule 1's user choices: why `n` must stay float32, or undefined. Ancestors are checked too. */
function userBlock(options: Fp16Options, ctx: PassContext): (n: Node) => string | undefined {
  const byOp = opMatcher(options.blockOps);
  const byName = options.blockNodes.length ? nodeMatcher(options.blockNodes) : () => false;
  const own = (n: Node) =>
    !ctx.selects(n) ? 'selector' : byOp(n) ? 'op' : byName(n) ? 'name' : kernelGap(n) ? 'kernel' : undefined;
  return (n) => {
    for (let p = n.graph.parentNode; p; p = p.graph.parentNode) if (own(p)) return 'parent';
    return own(n);
  };
}

/** ORT CPU has no float16 Scatter* kernel with a reduction (add, mul, max, min). */
function kernelGap(n: Node): boolean {
  if (!isOnnx(n) || (n.opType !== 'ScatterElements' && n.opType !== 'ScatterND')) return false;
  const r = n.attributes.get('reduction');
  return r !== undefined && new TextDecoder().decode(r.proto.s) !== 'none';
}

/** Inputs the spec types as float only (rule 3). */
function floatOnlyInput(n: Node, index: number, opset: number): boolean {
  if (!isOnnx(n)) return false;
  if (n.opType === 'Resize') return index === (opset >= 11 ? 2 : 1);
  if (n.opType === 'Upsample') return index === 1;
  return false;
}

/** Inputs of any type (rule 3): the output type does not follow them. */
function anyTypeInput(n: Node, index: number): boolean {
  return isOnnx(n) && index === 0 && ['Cast', 'CastLike', 'Shape', 'Size'].includes(n.opType);
}

/** Ops that may write float tensors without reading one (rule 1). */
const DTYPE_ATTR_OPS = new Set(
  words('EyeLike RandomNormal RandomUniform RandomNormalLike RandomUniformLike Bernoulli'),
);
const GENERATORS = new Set([
  ...DTYPE_ATTR_OPS,
  ...words('Constant ConstantOfShape Cast CastLike If Loop Scan'),
]);

/** Outputs whose type an attribute fixes (rule 2). */
function attributeTypedOutput(n: Node, k: number): boolean {
  return isOnnx(n) && n.opType === 'LayerNormalization' && k > 0;
}

/** Largest finite |x| beyond the fp16 range, or 0 when every value fits. */
function overflowOf(t: Tensor | undefined): number {
  if (!t || t.dtype !== FLOAT || t.isString) return 0;
  let worst = 0;
  for (const x of t.toFloat32()) {
    const a = Math.abs(x);
    if (a > HALF_MAX && a !== Number.POSITIVE_INFINITY && a > worst) worst = a;
  }
  return worst;
}

interface Tally {
  tensorsConverted: number;
  /** values that became fp16 subnormals (or were raised to 2^-24): they keep less relative precision */
  subnormalValues: number;
}

interface Counts {
  convertedNodes: number;
  blockedNodes: number;
  castsInserted: number;
  overflowWeights: number;
  /** blocked nodes by rule-1 reason, as `blocked_<reason>` */
  reasons: Record<string, number>;
}

/** A float16 copy of a float32 tensor (rule 5). */
function halfTensor(t: Tensor, tally: Tally): Tensor {
  const x = t.toFloat32();
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    let v = x[i]!;
    const a = Math.abs(v);
    if (a !== 0 && a < HALF_MIN_NORMAL) {
      tally.subnormalValues++;
      if (a < HALF_MIN_SUBNORMAL) v = v < 0 ? -HALF_MIN_SUBNORMAL : HALF_MIN_SUBNORMAL;
    }
    h[i] = float32ToFloat16Bits(v);
  }
  tally.tensorsConverted++;
  const out = t.clone();
  out.setData(viewBytes(h), HALF, [...t.dims]);
  return out;
}

/** Replace a Constant node's float tensor by its float16 copy. */
function convertConstantNode(n: Node, tally: Tally): void {
  const t = constantNodeTensor(n)!;
  n.attributes.delete('value_float');
  n.attributes.delete('value_floats');
  setAttr(n, 'value', halfTensor(t, tally));
}

/** Graphs in which `v` is listed as an output (outer values can be subgraph outputs too). */
function outputGraphs(model: Model): Map<Value, Graph[]> {
  const out = new Map<Value, Graph[]>();
  for (const g of model.graph.allGraphs())
    for (const v of g.outputs) {
      const list = out.get(v) ?? [];
      list.push(g);
      out.set(v, list);
    }
  return out;
}

function convertGraph(model: Model, o: Fp16Options, ctx: PassContext, tally: Tally): Counts {
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

/** rule 7 */
function convertWeights(model: Model, o: Fp16Options, ctx: PassContext, tally: Tally): Counts {
  const blockedByUser = userBlock(o, ctx);
  const opset = model.opset('') ?? 1;
  const outputsOf = outputGraphs(model);
  let overflowWeights = 0;
  let castsInserted = 0;
  const eligible = (v: Value, t: Tensor | undefined): t is Tensor => {
    if (!t || t.dtype !== FLOAT || t.isString || t.size < MIN_WEIGHT_ELEMENTS) return false;
    if (outputsOf.has(v) || v.uses.length === 0) return false;
    if (v.uses.some((u) => blockedByUser(u.node) || floatOnlyInput(u.node, u.index, opset))) return false;
    const worst = overflowOf(t);
    if (worst) {
      overflowWeights++;
      ctx.log.warn(
        `quantize-fp16: weight ${v.name} holds |x| = ${worst.toExponential(3)} > 65504; kept float32`,
      );
    }
    return worst === 0;
  };
  /** readers of `v` read Cast(v, to=FLOAT) instead; the Cast sits at `at` */
  const readThroughCast = (g: Graph, v: Value, at: number) => {
    const out = new Value(g, model.uniqueName(`${v.name}_fp32`), { elemType: FLOAT, shape: v.type?.shape });
    v.replaceAllUsesWith(out);
    const cast = new Node(g, 'Cast', '', model.uniqueName(`${v.name}_cast_to_fp32`));
    cast.addInput(v);
    setAttr(cast, 'to', FLOAT);
    cast.addOutput(out);
    g.insertNode(cast, at);
    castsInserted++;
    if (v.type) v.setType({ elemType: HALF, shape: v.type.shape });
  };
  for (const g of [...model.graph.allGraphs()]) {
    let top = 0;
    for (const v of [...g.initializers]) {
      const t = v.initializer;
      if (v.isGraphInput || !eligible(v, t)) continue;
      const h = halfTensor(t, tally);
      t.setData(h.bytes(), HALF, h.dims);
      readThroughCast(g, v, top++);
    }
    for (const n of [...g.nodes]) {
      if (n.opType !== 'Constant' || !isOnnx(n) || blockedByUser(n)) continue;
      const v = n.outputs[0]!;
      if (!eligible(v, constantNodeTensor(n))) continue;
      convertConstantNode(n, tally);
      readThroughCast(g, v, g.nodes.indexOf(n) + 1);
    }
  }
  return { convertedNodes: 0, blockedNodes: 0, castsInserted, overflowWeights, reasons: {} };
}

export const fp16Pass = definePass({
  id: 'quantize-fp16',
  summary:
    'float16 weights (and activations in graph mode); on ORT CPU/WASM this halves the size, not the time',
  lossless: false,
  options: fp16Options,
  searchSpace: { mode: ['weights', 'graph'] },
  apply(model, options, ctx): PassResult {
    const opset = model.opset('') ?? 0;
    if (opset < 6)
      throw new EdgefitError(
        'UNSUPPORTED',
        `fp16 conversion needs ai.onnx opset >= 6 (the model has ${opset}; Cast took a string type before)`,
        'convert the model to a newer opset first',
      );
    const weightBytesBefore = modelCounts(model).weightBytes;
    const tally: Tally = { tensorsConverted: 0, subnormalValues: 0 };
    const counts =
      options.mode === 'weights'
        ? convertWeights(model, options, ctx, tally)
        : convertGraph(model, options, ctx, tally);
    const weightBytesAfter = modelCounts(model).weightBytes;
    const { reasons, ...numbers } = counts;
    const stats = { ...numbers, ...reasons, ...tally, weightBytesBefore, weightBytesAfter };
    const what =
      options.mode === 'weights'
        ? `${tally.tensorsConverted} weights float16`
        : `${counts.convertedNodes} nodes float16, ${counts.blockedNodes} kept float32`;
    ctx.log.info(
      `quantize-fp16 (${options.mode}): ${what}, ${counts.castsInserted} casts, ` +
        `weights ${weightBytesBefore} -> ${weightBytesAfter} bytes`,
    );
    const changed = tally.tensorsConverted + counts.castsInserted + counts.convertedNodes > 0;
    return { changed, stats };
  },
});
