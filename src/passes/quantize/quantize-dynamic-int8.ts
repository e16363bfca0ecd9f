// quantize-dynamic-int8: weights int8 ahead of time, activations quantized at run time (docs/ORT.md §2.7, §8.2).
//  1. MatMul(A, B[K,N] constant) and Gemm(A, B, C) with transA = 0 become
//       DynamicQuantizeLinear(A) -> MatMulInteger(A_q, B_q, A_zp, B_zp) -> Cast(float)
//       -> Mul(·, A_scale * B_scale[N]) [-> Add(bias)]
//     which ORT fuses into DynamicQuantizeMatMul; weights are int8 symmetric per column (B_scale [N])
//  2. Gemm: op(B) * alpha is stored as B[K,N]; beta * C becomes the bias Add
//  3. Conv is left in float: ConvInteger is not fused and runs slower than float Conv. With
//     `conv: true` (explicitly asked) it becomes DynamicQuantizeLinear -> ConvInteger(per-tensor) ->
//     Cast -> Mul [-> Add bias], with a warning.

import { z } from 'zod';
import { inferShapes } from '../../analysis/shape-inference.js';
import { attrFloat, attrInt, GraphBuilder } from '../../ir/builder.js';
import type { Model, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { quantizeWeight, RANGES } from '../../kernels/quant.js';
import { DataType } from '../../onnx/dtype.js';
import { definePass } from '../pass.js';
import { constantOf, nodeMatcher, replaceValue } from '../util.js';
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
  apply(model, o, ctx) {
    assertNotQuantized(model.graph.allNodes());
    inferShapes(model, { defaultDim: null, write: true });
    const excluded = o.exclude.length ? nodeMatcher(o.exclude) : () => false;
    const g = model.graph;
    const b = new GraphBuilder(g);
    let matmuls = 0;
    let convs = 0;
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
        const { q, scales } = quantizeWeight(
          w,
          [k, cols],
          o.perTensor ? undefined : 1,
          RANGES.int8Symmetric,
          true,
        );
        const ch = o.perTensor ? 1 : cols;
        const shape = o.perTensor ? [] : [cols];
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
    return { changed: matmuls + convs > 0, stats: { matmuls, convs } };
  },
});

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
