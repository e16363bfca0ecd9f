// quantize-fp16 'weights' mode (rule 7 of quantize-fp16.ts): float32 weights stored as float16 and
// read through Cast(to=FLOAT), which ONNX Runtime folds at load: half the size at fp32 speed.

import { setAttr } from '../../ir/builder.js';
import { type Graph, type Model, Node, Value } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import type { PassContext } from '../pass.js';
import { constantNodeTensor } from '../util.js';
import {
  type Counts,
  convertConstantNode,
  FLOAT,
  floatOnlyInput,
  HALF,
  halfTensor,
  isOnnx,
  outputGraphs,
  overflowOf,
  type Tally,
  userBlock,
} from './fp16-rules.js';
import type { Fp16Options } from './quantize-fp16.js';

/** 'weights' mode leaves smaller tensors (scalars, eps, scales) float32: a Cast node outweighs them */
export const MIN_WEIGHT_ELEMENTS = 16;

/** rule 7 */
export function convertWeights(model: Model, o: Fp16Options, ctx: PassContext, tally: Tally): Counts {
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
