// quantize-dynamic-int8: weights int8 ahead of time, activations quantized at run time (docs/ORT.md §2.7, §8.2).
//  1. MatMul(A, B[K,N] constant) and Gemm(A, B, C) with transA = 0 become
//       DynamicQuantizeLinear(A) -> MatMulInteger(A_q, B_q, A_zp, B_zp) -> Cast(float)
//       -> Mul(·, A_scale * B_scale[N]) [-> Add(bias)]
//     which ORT fuses into DynamicQuantizeMatMul; weights are int8 symmetric per column (B_scale [N])
//  2. Gemm: op(B) * alpha is stored as B[K,N]; beta * C becomes the bias Add
//  3. Conv is left in float: ConvInteger is not fused and runs slower than float Conv. With
//     `conv: true` (explicitly asked) it becomes DynamicQuantizeLinear -> ConvInteger(per-tensor) ->
//     Cast -> Mul [-> Add bias], with a warning.
//  4. LSTM (forward, reverse or bidirectional, layout 0, in any graph) with constant W and R (computed
//     from constants, e.g. Silero VAD v5's gate reordering Slice/Concat: folded first) becomes
//     com.microsoft DynamicQuantizeLSTM: W, R transposed to [dirs, in, 4h] / [dirs, h, 4h], int8
//     symmetric per gate column (scales [dirs, 4h], zero points 0); B, states and P stay float
//  5. DynamicQuantizeLinear needs ai.onnx opset 11: an older model is upgraded (opset.ts), else
//     nothing is quantized and a warning says why. Whatever is left float says why in one warning.

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { attrFloat, attrInt, GraphBuilder } from '../../ir/builder.js';
import type { Model, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { quantizeWeight, RANGES } from '../../kernels/quant.js';
import { DataType } from '../../onnx/dtype.js';
import { foldGrowing } from '../cleanup/fold-constants.js';
import { isExposedCodebook } from '../encoding.js';
import { definePass, type PassContext } from '../pass.js';
import { unmatchedExcludes } from '../reasons.js';
import { constantOf, nodeMatcher, replaceValue } from '../util.js';
import { upgradeBlocker, upgradeOpset } from './opset.js';
import { assertNotQuantized } from './qdq.js';

const options = z
  .object({
    perTensor: z
      .boolean()
      .default(false)
      .describe('one scale per weight tensor instead of per output column'),
    exclude: z.array(z.string()).default([]).describe('node names (globs) or op types to keep in float'),
    conv: z
      .boolean()
      .default(false)
      .describe('also quantize Conv with ConvInteger (not fused: slower than float on ORT CPU)'),
    minElements: z.number().int().min(0).default(256).describe('leave weights with fewer elements float'),
  })
  .strict();

/** op(B) * alpha as a [K, N] float matrix */
function weightKN(n: Node, b: Float32Array, dims: number[]): { w: Float32Array; k: number; n: number } {
  const transB = n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1;
  const alpha = n.opType === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1;
  const [r, c] = dims as [number, number];
  if (!transB) return { w: alpha === 1 ? b : b.map((x) => x * alpha), k: r, n: c };
  const w = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) w[j * r + i] = b[i * c + j]! * alpha;
  return { w, k: c, n: r };
}

export const quantizeDynamicInt8 = definePass({
  id: 'quantize-dynamic-int8',
  summary:
    'dynamic int8: int8 weights, activations quantized at run time (MatMul/Gemm -> DynamicQuantizeMatMul)',
  lossless: false,
  options,
  searchSpace: { perTensor: [false, true] },
  async apply(model, o, ctx) {
    assertNotQuantized(model.graph.allNodes());
    inferShapes(model, { defaultDim: null, write: true });
    await foldLstmWeights(model, ctx);
    const excluded = o.exclude.length ? nodeMatcher(o.exclude) : () => false;
    for (const w of unmatchedExcludes('quantize-dynamic-int8', model, o.exclude)) ctx.log.warn(w);
    const g = model.graph;
    const b = new GraphBuilder(g);
    const left = leftFloat(model, o, excluded, (n) => ctx.selects(n));
    if (!left.targets) {
      ctx.log.warn(
        `quantize-dynamic-int8 quantized nothing: ${left.reasons.join('; ') || 'the model has no MatMul, Gemm or LSTM'}`,
      );
      return { changed: false, stats: { matmuls: 0, convs: 0, lstms: 0 } };
    }
    const from = model.opset('') ?? 0;
    if (from < 11 && upgradeOpset(model, 11) === undefined) {
      ctx.log.warn(
        `quantize-dynamic-int8 quantized nothing: DynamicQuantizeLinear needs ai.onnx opset 11 and this opset-${from} model cannot be converted (${upgradeBlocker(model, 11)}); convert it to opset 13 first, or use --mode weight-int8`,
      );
      return { changed: false, stats: { matmuls: 0, convs: 0, lstms: 0 } };
    }
    if (left.reasons.length)
      ctx.log.warn(`quantize-dynamic-int8 left some layers float: ${left.reasons.join('; ')}`);
    let matmuls = 0;
    let convs = 0;
    let lstms = 0;
    for (const graph of model.graph.allGraphs())
      for (const n of [...graph.nodes])
        if (n.opType === 'LSTM' && n.domain === '' && ctx.selects(n) && !excluded(n) && quantizeLstm(n))
          lstms++;
    for (const n of [...g.nodes]) {
      if (n.domain !== '' || !ctx.selects(n) || excluded(n)) continue;
      const a = n.inputs[0];
      const wt = constantOf(n.inputs[1]);
      if (
        !a ||
        a.type?.elemType !== DataType.FLOAT ||
        !wt ||
        wt.dtype !== DataType.FLOAT ||
        wt.size < o.minElements
      )
        continue;
      const at = () => g.nodes.indexOf(n);
      if (
        (n.opType === 'MatMul' || (n.opType === 'Gemm' && attrInt(n, 'transA', 0) === 0)) &&
        wt.dims.length === 2
      ) {
        const { w, k, n: cols } = weightKN(n, wt.toFloat32(), wt.dims);
        const perTensor = o.perTensor || isExposedCodebook(wt);
        const { q, scales } = quantizeWeight(
          w,
          [k, cols],
          perTensor ? undefined : 1,
          RANGES.int8Symmetric,
          true,
        );
        const ch = perTensor ? 1 : cols;
        const shape = perTensor ? [] : [cols];
        const bq = b.weight(
          `${wt.name}_quantized`,
          Tensor.fromTyped('', DataType.INT8, [k, cols], Int8Array.from(q)),
        );
        const bs = b.weight(`${wt.name}_scale`, Tensor.fromFloat32('', shape, scales));
        const bz = b.weight(
          `${wt.name}_zero_point`,
          Tensor.fromTyped('', DataType.INT8, shape, new Int8Array(ch)),
        );
        const dql = b.node(
          'DynamicQuantizeLinear',
          [a],
          {},
          { outputs: [`${a.name}_quantized`, `${a.name}_scale`, `${a.name}_zero_point`], at: at() },
        );
        const [aq, as, az] = dql.outputs as [Value, Value, Value];
        const mi = b.op('MatMulInteger', [aq, bq, az, bz], {}, { at: at() });
        const cast = b.op('Cast', [mi], { to: DataType.FLOAT }, { at: at() });
        const scale = b.op('Mul', [as, bs], {}, { at: at() });
        let y = b.op('Mul', [cast, scale], {}, { at: at() });
        if (n.opType === 'Gemm' && n.inputs[2]) {
          const ct = constantOf(n.inputs[2]);
          const beta = attrFloat(n, 'beta', 1);
          const bias = ct
            ? b.weight(
                `${n.name}_bias`,
                Tensor.fromFloat32(
                  '',
                  ct.dims,
                  ct.toFloat32().map((x) => x * beta),
                ),
              )
            : undefined;
          if (!bias) continue; // a non-constant C: leave the node alone (nodes added above are dead and removed by dead-code)
          y = b.op('Add', [y, bias], {}, { at: at() });
        }
        y.setType(n.outputs[0]!.type);
        if (!replaceValue(n.outputs[0]!, y)) continue;
        g.removeNode(n, true);
        matmuls++;
      } else if (n.opType === 'Conv' && o.conv) {
        ctx.log.warn(
          `${n.name || 'Conv'}: ConvInteger is not fused by ONNX Runtime and usually runs slower than float Conv`,
        );
        const { q, scales } = quantizeWeight(wt.toFloat32(), wt.dims, undefined, RANGES.int8Symmetric, true);
        const wq = b.weight(
          `${wt.name}_quantized`,
          Tensor.fromTyped('', DataType.INT8, [...wt.dims], Int8Array.from(q)),
        );
        const wz = b.weight(
          `${wt.name}_zero_point`,
          Tensor.fromTyped('', DataType.INT8, [], new Int8Array(1)),
        );
        const ws = b.weight(`${wt.name}_scale`, Tensor.fromFloat32('', [], scales));
        const dql = b.node('DynamicQuantizeLinear', [a], {}, { outputs: 3, at: at() });
        const [aq, as, az] = dql.outputs as [Value, Value, Value];
        const ci = b.node('ConvInteger', [aq, wq, az, wz], {}, { at: at() });
        for (const k of ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides']) {
          const attr = n.attributes.get(k);
          if (attr) ci.attributes.set(k, attr);
        }
        const cast = b.op('Cast', [ci.outputs[0]], { to: DataType.FLOAT }, { at: at() });
        let y = b.op('Mul', [cast, b.op('Mul', [as, ws], {}, { at: at() })], {}, { at: at() });
        const bt = n.inputs[2] ? constantOf(n.inputs[2]) : undefined;
        if (bt)
          y = b.op(
            'Add',
            [
              y,
              b.weight(
                `${n.name}_bias`,
                Tensor.fromFloat32('', [bt.size, ...wt.dims.slice(2).map(() => 1)], bt.toFloat32()),
              ),
            ],
            {},
            { at: at() },
          );
        y.setType(n.outputs[0]!.type);
        if (!replaceValue(n.outputs[0]!, y)) continue;
        g.removeNode(n, true);
        convs++;
      }
    }
    return { changed: matmuls + convs + lstms > 0, stats: { matmuls, convs, lstms } };
  },
});

/** Rule 4: LSTM W/R computed from constants only become constants (their cones folded, growth allowed). */
async function foldLstmWeights(model: Model, ctx: PassContext): Promise<void> {
  if (!ctx.runtime) return;
  const cone = new Set<Node>();
  const add = (v: Value | undefined) => {
    const p = v && !constantOf(v) ? v.producer : undefined;
    if (!p || cone.has(p)) return;
    cone.add(p);
    for (const i of p.inputs) add(i);
  };
  for (const n of model.graph.allNodes())
    if (n.opType === 'LSTM' && n.domain === '' && ctx.selects(n)) {
      add(n.inputs[1]);
      add(n.inputs[2]);
    }
  if (!cone.size) return;
  await foldGrowing(model, { ...ctx, selects: (n) => cone.has(n) });
}

const isFloatWeight = (wt: Tensor | undefined, min: number): wt is Tensor =>
  !!wt && wt.dtype === DataType.FLOAT && wt.size >= min;

/** Rule 4's conditions; the reason when an LSTM stays float. */
function lstmBlocker(n: Node): string | undefined {
  if (attrInt(n, 'layout', 0) !== 0) return 'layout 1';
  if (n.attributes.has('activations') || n.attributes.has('clip')) return 'custom activations or clip';
  const [w, r] = [constantOf(n.inputs[1]), constantOf(n.inputs[2])];
  if (!w || !r) return 'its W/R are computed in the graph, not constant weights';
  if (w.dtype !== DataType.FLOAT || r.dtype !== DataType.FLOAT || w.dims.length !== 3 || r.dims.length !== 3)
    return 'W/R are not 3-D float32';
  return undefined;
}

/** [dirs, rows, cols] -> [dirs, cols, rows] */
function transpose3(a: Float32Array, [d, r, c]: number[]): Float32Array {
  const out = new Float32Array(a.length);
  for (let k = 0; k < d!; k++)
    for (let i = 0; i < r!; i++)
      for (let j = 0; j < c!; j++) out[(k * c! + j) * r! + i] = a[(k * r! + i) * c! + j]!;
  return out;
}

/** Rule 4: LSTM -> com.microsoft DynamicQuantizeLSTM. */
function quantizeLstm(n: Node): boolean {
  if (lstmBlocker(n)) return false;
  const g = n.graph;
  const b = new GraphBuilder(g);
  const quantized = (v: Value, base: string) => {
    const t = constantOf(v)!;
    const [d, rows, cols] = t.dims as [number, number, number]; // [dirs, 4h, in]
    const wt = transpose3(t.toFloat32(), [d, rows, cols]); // [dirs, in, 4h]
    const q = new Int8Array(wt.length);
    const scales = new Float32Array(d * rows);
    for (let k = 0; k < d; k++) {
      const one = wt.subarray(k * rows * cols, (k + 1) * rows * cols);
      const r = quantizeWeight(one, [cols, rows], 1, RANGES.int8Symmetric, true);
      q.set(Int8Array.from(r.q), k * rows * cols);
      scales.set(r.scales, k * rows);
    }
    return [
      b.weight(`${base}_quantized`, Tensor.fromTyped('', DataType.INT8, [d, cols, rows], q)),
      b.weight(`${base}_scale`, Tensor.fromFloat32('', [d, rows], scales)),
      b.weight(`${base}_zero_point`, Tensor.fromTyped('', DataType.INT8, [d, rows], new Int8Array(d * rows))),
    ] as const;
  };
  const [wq, ws, wz] = quantized(n.inputs[1]!, n.inputs[1]!.name);
  const [rq, rs, rz] = quantized(n.inputs[2]!, n.inputs[2]!.name);
  const inputs = [n.inputs[0], wq, rq, ...[3, 4, 5, 6, 7].map((i) => n.inputs[i]), ws, wz, rs, rz];
  const q = b.node(
    'DynamicQuantizeLSTM',
    inputs,
    {},
    { domain: 'com.microsoft', name: `${n.name || 'lstm'}_quant`, outputs: 0, at: g.nodes.indexOf(n) },
  );
  for (const [k, a] of n.attributes) if (k !== 'layout') q.attributes.set(k, a);
  for (const out of [...n.outputs]) q.addOutput(out);
  n.outputs.length = 0;
  g.removeNode(n, true);
  if (!g.model.opsetImports.has('com.microsoft')) g.model.opsetImports.set('com.microsoft', 1);
  return true;
}

/** What rules 1-4 would quantize, and why the rest stays float. */
function leftFloat(
  model: Model,
  o: z.output<typeof options>,
  excluded: (n: Node) => boolean,
  selects: (n: Node) => boolean,
): { targets: number; reasons: string[] } {
  let targets = 0;
  let convs = 0;
  let small = 0;
  const lstm: string[] = [];
  for (const graph of model.graph.allGraphs())
    for (const n of graph.nodes) {
      if (n.domain !== '' || !selects(n) || excluded(n)) continue;
      const wt = constantOf(n.inputs[1]);
      if (n.opType === 'LSTM') {
        const why = lstmBlocker(n);
        if (why) lstm.push(why);
        else targets++;
        continue;
      }
      if (graph !== model.graph) continue;
      const matmul =
        (n.opType === 'MatMul' || (n.opType === 'Gemm' && attrInt(n, 'transA', 0) === 0)) &&
        wt?.dims.length === 2;
      if (!matmul && n.opType !== 'Conv') continue;
      if (!isFloatWeight(wt, 0)) continue;
      if (wt.size < o.minElements) small++;
      else if (matmul || o.conv) targets++;
      else convs++;
    }
  const reasons: string[] = [];
  if (convs)
    reasons.push(
      `${convs} Conv weight(s) stay float (ConvInteger is slower than float Conv on ORT CPU: --conv to quantize them anyway, or --mode static)`,
    );
  if (small) reasons.push(`${small} weight(s) below minElements ${o.minElements}`);
  if (lstm.length) reasons.push(`${lstm.length} LSTM(s) stay float (${[...new Set(lstm)].join(', ')})`);
  return { targets, reasons };
}

/** The MatMul/Gemm layers dynamic quantization would quantize (nodes without a name get one). */
export function dynamicTargets(model: Model): { name: string; op: string }[] {
  for (const n of model.graph.nodes) if (!n.name) n.name = model.uniqueName(n.opType);
  return model.graph.nodes
    .filter(
      (n) =>
        (n.opType === 'MatMul' || n.opType === 'Gemm') &&
        n.domain === '' &&
        constantOf(n.inputs[1])?.dims.length === 2,
    )
    .map((n) => ({ name: n.name, op: n.opType }));
}
