// cross-layer-equalization: equalize weight ranges of consecutive convolutions (Nagel et al., "Data-Free
// Quantization", as in AIMET), so one per-tensor or per-channel int8 scale fits every channel.
//  1. pairs Conv1 -> [Relu] -> Conv2 where Conv1's output (and the Relu's) is read only by the next node
//  2. for each channel i between them: r1 = max|W1[i, ...]| (output channel i of Conv1),
//     r2 = max|W2[:, i, ...]| (input channel i of Conv2; grouped and depthwise Conv2 handled),
//     s = sqrt(r1 / r2);  W1[i] /= s, b1[i] /= s, W2[:, i] *= s
//     Relu(x / s) = Relu(x) / s for s > 0, so the model computes the same function
//  3. Relu6 (Clip 0..6) is not scale-invariant; with replaceRelu6 (the default, as AIMET does) it becomes
//     Relu before equalizing — a small change of the function, reported in the stats
//  4. pairs are equalized in graph order, so chains (conv -> depthwise -> pointwise) are covered

import { z } from 'zod';
import { attrInt } from '../../ir/builder.js';
import type { Graph, Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { constantOf, replaceInputWeight } from '../util.js';
import { divideInput } from './rescale.js';

const options = z
  .object({
    replaceRelu6: z
      .boolean()
      .default(true)
      .describe('replace Relu6 (Clip 0..6) between paired convs by Relu, so they can be equalized'),
    iterations: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(1)
      .describe('equalization sweeps over the conv pairs'),
  })
  .strict();

function convWeight(n: Node): Float32Array | undefined {
  const t = constantOf(n.inputs[1]);
  return n.opType === 'Conv' && n.domain === '' && t?.dtype === DataType.FLOAT && t.dims.length >= 3
    ? t.toFloat32()
    : undefined;
}

function isRelu6(n: Node): boolean {
  if (n.opType !== 'Clip') return false;
  const lo = n.inputs[1] ? constantOf(n.inputs[1])?.toFloat32()[0] : undefined;
  return lo === 0;
}

/** the next conv after `conv`, through at most one Relu/Relu6, when every link has one reader */
function nextConv(conv: Node, replaceRelu6: boolean): { next: Node; act?: Node } | undefined {
  const out = conv.outputs[0]!;
  if (out.uses.length !== 1 || out.isGraphOutput) return undefined;
  let n = out.uses[0]!.node;
  let act: Node | undefined;
  if (n.opType === 'Relu' || (replaceRelu6 && isRelu6(n))) {
    act = n;
    const y = n.outputs[0]!;
    if (y.uses.length !== 1 || y.isGraphOutput) return undefined;
    n = y.uses[0]!.node;
  }
  if (n.inputs[0] !== (act ? act.outputs[0] : out) || !convWeight(n)) return undefined;
  return act ? { next: n, act } : { next: n };
}

function equalize(_graph: Graph, c1: Node, c2: Node): boolean {
  const t1 = constantOf(c1.inputs[1])!;
  const t2 = constantOf(c2.inputs[1])!;
  const w1 = t1.toFloat32().slice();
  const w2 = t2.toFloat32().slice();
  const channels = t1.dims[0]!;
  const inner1 = w1.length / channels;
  const group2 = attrInt(c2, 'group', 1);
  const [m2, cPer2] = t2.dims as [number, number];
  const inner2 = t2.dims.slice(2).reduce((a, b) => a * b, 1);
  if (cPer2 * group2 !== channels) return false;
  const outPerGroup = m2 / group2;
  // input channel i of Conv2: group g = floor(i / cPer2), local index i % cPer2, outputs of group g
  const r2 = new Float64Array(channels);
  for (let o = 0; o < m2; o++) {
    const g = Math.floor(o / outPerGroup);
    for (let c = 0; c < cPer2; c++) {
      const i = g * cPer2 + c;
      const base = (o * cPer2 + c) * inner2;
      for (let k = 0; k < inner2; k++) r2[i] = Math.max(r2[i]!, Math.abs(w2[base + k]!));
    }
  }
  const s = new Float64Array(channels);
  for (let i = 0; i < channels; i++) {
    let r1 = 0;
    for (let k = 0; k < inner1; k++) r1 = Math.max(r1, Math.abs(w1[i * inner1 + k]!));
    s[i] = r1 > 0 && r2[i]! > 0 ? Math.sqrt(r1 / r2[i]!) : 1;
  }
  for (let i = 0; i < channels; i++) for (let k = 0; k < inner1; k++) w1[i * inner1 + k]! /= s[i]!;
  for (let o = 0; o < m2; o++) {
    const g = Math.floor(o / outPerGroup);
    for (let c = 0; c < cPer2; c++) {
      const f = s[g * cPer2 + c]!;
      const base = (o * cPer2 + c) * inner2;
      for (let k = 0; k < inner2; k++) w2[base + k]! *= f;
    }
  }
  replaceInputWeight(c1, 1, t1.dims, w1, 'cle');
  replaceInputWeight(c2, 1, t2.dims, w2, 'cle');
  divideInput(c1, 2, s, 'cle');
  return true;
}

export const crossLayerEqualization = definePass({
  id: 'cross-layer-equalization',
  summary: 'equalize weight ranges of consecutive convolutions (helps int8 on depthwise nets)',
  lossless: false,
  options,
  searchSpace: { replaceRelu6: [true, false] },
  apply(model, o, ctx) {
    let pairs = 0;
    let relu6Replaced = 0;
    for (let it = 0; it < o.iterations; it++)
      for (const graph of model.graph.allGraphs())
        for (const c1 of [...graph.nodes]) {
          if (!convWeight(c1) || !ctx.selects(c1)) continue;
          const link = nextConv(c1, o.replaceRelu6);
          if (!link || !ctx.selects(link.next)) continue;
          if (link.act && link.act.opType === 'Clip') {
            link.act.opType = 'Relu';
            link.act.truncateInputs(1);
            relu6Replaced++;
          }
          if (equalize(graph, c1, link.next)) pairs++;
        }
    return { changed: pairs > 0, stats: { pairs, relu6Replaced } };
  },
});
