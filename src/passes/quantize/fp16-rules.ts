// quantize-fp16's shared rules (see quantize-fp16.ts): the user's and the spec's reasons to keep a node
// float32 (rule 1), which inputs take any type or float only (rule 3), outputs typed by attributes
// (rule 2), and the float16 copy of a tensor with ORT's treatment of tiny values (rule 5).

import { setAttr } from '../../ir/builder.js';
import type { Graph, Model, Node, Value } from '../../ir/graph.js';
import { type Tensor, viewBytes } from '../../ir/tensor.js';
import { DataType } from '../../onnx/dtype.js';
import { float32ToFloat16Bits } from '../../onnx/float16.js';
import type { PassContext } from '../pass.js';
import { constantNodeTensor, nodeMatcher } from '../util.js';
import type { Fp16Options } from './quantize-fp16.js';

export const FLOAT: number = DataType.FLOAT;
export const HALF: number = DataType.FLOAT16;
const HALF_MAX = 65504;
const HALF_MIN_SUBNORMAL = 2 ** -24;
const HALF_MIN_NORMAL = 2 ** -14;

export const words = (s: string) => s.split(' ');

export const isOnnx = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';

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
export function userBlock(options: Fp16Options, ctx: PassContext): (n: Node) => string | undefined {
  const byOp = opMatcher(options.blockOps);
  const byName = options.exclude.length ? nodeMatcher(options.exclude) : () => false;
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
export function floatOnlyInput(n: Node, index: number, opset: number): boolean {
  if (!isOnnx(n)) return false;
  if (n.opType === 'Resize') return index === (opset >= 11 ? 2 : 1);
  if (n.opType === 'Upsample') return index === 1;
  return false;
}

/** Inputs of any type (rule 3): the output type does not follow them. */
export function anyTypeInput(n: Node, index: number): boolean {
  return isOnnx(n) && index === 0 && ['Cast', 'CastLike', 'Shape', 'Size'].includes(n.opType);
}

/** Ops that may write float tensors without reading one (rule 1). */
export const DTYPE_ATTR_OPS = new Set(
  words('EyeLike RandomNormal RandomUniform RandomNormalLike RandomUniformLike Bernoulli'),
);
export const GENERATORS = new Set([
  ...DTYPE_ATTR_OPS,
  ...words('Constant ConstantOfShape Cast CastLike If Loop Scan'),
]);

/** Outputs whose type an attribute fixes (rule 2). */
export function attributeTypedOutput(n: Node, k: number): boolean {
  return isOnnx(n) && n.opType === 'LayerNormalization' && k > 0;
}

/** Largest finite |x| beyond the fp16 range, or 0 when every value fits. */
export function overflowOf(t: Tensor | undefined): number {
  if (!t || t.dtype !== FLOAT || t.isString) return 0;
  let worst = 0;
  for (const x of t.toFloat32()) {
    const a = Math.abs(x);
    if (a > HALF_MAX && a !== Number.POSITIVE_INFINITY && a > worst) worst = a;
  }
  return worst;
}

export interface Tally {
  tensorsConverted: number;
  /** values that became fp16 subnormals (or were raised to 2^-24): they keep less relative precision */
  subnormalValues: number;
}

export interface Counts {
  convertedNodes: number;
  blockedNodes: number;
  castsInserted: number;
  overflowWeights: number;
  /** blocked nodes by rule-1 reason, as `blocked_<reason>` */
  reasons: Record<string, number>;
}

/** A float16 copy of a float32 tensor (rule 5). */
export function halfTensor(t: Tensor, tally: Tally): Tensor {
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
export function convertConstantNode(n: Node, tally: Tally): void {
  const t = constantNodeTensor(n)!;
  n.attributes.delete('value_float');
  n.attributes.delete('value_floats');
  setAttr(n, 'value', halfTensor(t, tally));
}

/** Graphs in which `v` is listed as an output (outer values can be subgraph outputs too). */
export function outputGraphs(model: Model): Map<Value, Graph[]> {
  const out = new Map<Value, Graph[]>();
  for (const g of model.graph.allGraphs())
    for (const v of g.outputs) {
      const list = out.get(v) ?? [];
      list.push(g);
      out.set(v, list);
    }
  return out;
}
