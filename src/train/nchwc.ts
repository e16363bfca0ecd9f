// Blocked-layout convolutions for step graphs. ONNX Runtime's fast CPU convolutions (MLAS NCHWc,
// channels in blocks of 8 or 16) are chosen by its graph optimizer only for convolutions whose weights
// are constant initializers; in a step graph the weights are inputs, so ORT falls back to im2col +
// GEMM, about 3x slower on the fixtures. This pass writes the blocked form into the graph itself:
//
//  1. The weight is reordered in the graph (Reshape, Transpose, Reshape: a few kB per step) to the
//     layout MLAS expects — OIHWBiBo [O/B, I/B, kh, kw, Bi, Bo], or OIHWBo [O/B, I, kh, kw, Bo] for
//     depthwise convolutions and for inputs with fewer than B channels (read in NCHW directly) — with
//     output channels zero-padded to a multiple of B (and the bias with them).
//  2. com.microsoft.nchwc ReorderInput / Conv / ReorderOutput replace the Conv; a Relu that is the
//     conv's only use is fused into it (activation = Relu).
//  3. Only 2-D convolutions with group 1, or depthwise, whose channel counts fit the blocks; anything
//     else stays a standard Conv. The block size is probed from the runtime (ReorderInput pads 4
//     channels to one block); a runtime without these kernels (onnxruntime-web) gets no rewrite.

import { inferShapes } from '../analysis/shape-inference.js';
import { GraphBuilder, makeAttribute, newModel } from '../ir/builder.js';
import type { Model, Node, TensorType, Value } from '../ir/graph.js';
import { encodeModel } from '../ir/serialize.js';
import { Tensor } from '../ir/tensor.js';
import type { Runtime } from '../runtime/types.js';

export const NCHWC = 'com.microsoft.nchwc';

const probed = new WeakMap<Runtime, Promise<number | undefined>>();

/** MLAS's NCHWc block size in this runtime, or undefined when it has no NCHWc kernels (rule 3). */
export function nchwcBlockSize(runtime: Runtime): Promise<number | undefined> {
  let p = probed.get(runtime);
  if (!p) {
    p = (async () => {
      const m = newModel({ '': 13, [NCHWC]: 1 });
      const b = new GraphBuilder(m.graph);
      const x = b.input('x', { elemType: 1, shape: [1, 4, 1, 1] });
      b.output(b.op('ReorderInput', [x], {}, { domain: NCHWC }));
      try {
        const s = await runtime.createSession(encodeModel(m), { threads: 1 });
        try {
          const out = await s.run({ x: { dtype: 1, dims: [1, 4, 1, 1], data: new Float32Array(4) } });
          const c = Object.values(out)[0]!.dims[1]!;
          return c >= 8 && (c & (c - 1)) === 0 ? c : undefined;
        } finally {
          await s.release();
        }
      } catch {
        return undefined;
      }
    })();
    probed.set(runtime, p);
  }
  return p;
}

function isConstant(v: Value | undefined): boolean {
  return !!v && !!v.initializer && !v.isGraphInput;
}

interface Plan {
  node: Node;
  O: number;
  I: number;
  kh: number;
  kw: number;
  /** filter layout: OIHWBo (true) or OIHWBiBo */
  bo: boolean;
  reorderInput: boolean;
}

function plan(node: Node, types: Map<Value, TensorType>, block: number): Plan | undefined {
  if (node.opType !== 'Conv' || node.domain !== '' || isConstant(node.inputs[1])) return undefined;
  const xs = types.get(node.inputs[0]!)?.shape;
  const ws = types.get(node.inputs[1]!)?.shape;
  if (!xs || !ws || xs.length !== 4 || ws.length !== 4 || ![...xs, ...ws].every((d) => typeof d === 'number'))
    return undefined;
  const [O, I, kh, kw] = ws as number[];
  const C = xs[1] as number;
  const group = Number(node.attributes.get('group')?.proto.i ?? 1);
  if (group === 1) {
    if (I < block && I === C) return { node, O: O!, I: I!, kh: kh!, kw: kw!, bo: true, reorderInput: false };
    if (I % block === 0) return { node, O: O!, I: I!, kh: kh!, kw: kw!, bo: false, reorderInput: true };
    return undefined;
  }
  if (I === 1 && O === group && C === group && O % block === 0)
    return { node, O: O!, I: I!, kh: kh!, kw: kw!, bo: true, reorderInput: true };
  return undefined;
}

/** Rewrite the eligible convolutions of `model` to NCHWc (see the header); returns how many. */
export function toNchwc(model: Model, block: number): number {
  const g = model.graph;
  const types = inferShapes(model, {}).types;
  const plans = g.nodes.map((n) => plan(n, types, block)).filter((p): p is Plan => p !== undefined);
  if (!plans.length) return 0;
  model.opsetImports.set(NCHWC, 1);
  const b = new GraphBuilder(g);
  const ints = (v: number[]) => b.weight('nchwc_shape', Tensor.fromInt64('s', [v.length], v));
  const reordered = new Map<Value, Value>();
  for (const p of plans) {
    const n = p.node;
    let at = g.nodes.indexOf(n);
    const put = (
      type: string,
      inputs: (Value | undefined)[],
      attrs: Record<string, unknown> = {},
      domain = '',
    ) => b.op(type, inputs, attrs as never, { at: at++, domain });
    const Opad = Math.ceil(p.O / block) * block;
    // rule 1: the filter, zero-padded to whole output blocks
    let w = n.inputs[1]!;
    if (Opad !== p.O) w = put('Pad', [w, ints([0, 0, 0, 0, Opad - p.O, 0, 0, 0])]);
    const blocks = p.bo
      ? [Opad / block, block, p.I, p.kh, p.kw]
      : [Opad / block, block, p.I / block, block, p.kh, p.kw];
    const perm = p.bo ? [0, 2, 3, 4, 1] : [0, 2, 4, 5, 3, 1];
    const wr = put('Reshape', [
      put('Transpose', [put('Reshape', [w, ints(blocks)])], { perm }),
      ints([Opad, p.I, p.kh, p.kw]),
    ]);
    let bias = n.inputs[2];
    if (bias && Opad !== p.O) bias = put('Pad', [bias, ints([0, Opad - p.O])]);
    let x = n.inputs[0]!;
    if (p.reorderInput) {
      const known = reordered.get(x);
      if (known) x = known;
      else {
        const r = put('ReorderInput', [x], {}, NCHWC);
        reordered.set(n.inputs[0]!, r);
        x = r;
      }
    }
    // rule 2
    const y = n.outputs[0]!;
    const relu =
      y.uses.length === 1 && !y.isGraphOutput && y.uses[0]!.node.opType === 'Relu'
        ? y.uses[0]!.node
        : undefined;
    const conv = b.node('Conv', [x, wr, bias], {}, { at: at++, domain: NCHWC });
    for (const [k, a] of n.attributes) conv.attributes.set(k, a);
    if (relu) conv.attributes.set('activation', makeAttribute('activation', 'Relu'));
    const out = put('ReorderOutput', [conv.outputs[0]!], { channels: p.O }, NCHWC);
    const replaced = relu ? relu.outputs[0]! : y;
    replaced.replaceAllUsesWith(out);
    if (relu) g.removeNode(relu);
    g.removeNode(n);
  }
  return plans.length;
}
