// Gradient rules of Conv (strides, pads, groups, depthwise, dilation, 1-D), pooling, data movement,
// Gather (codebooks) and quantization, each checked against central finite differences of the forward
// graph run by onnxruntime-node (gradcheck.ts); straight-through estimators against their definition.
import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import type { GraphBuilder } from '../helpers/models.js';
import { distinct, gradCheck, ruleChecks } from './gradcheck.js';

const check = ruleChecks();

function convCase(x: number[], w: number[], attrs: Record<string, number | number[] | string>, bias = true) {
  return {
    inputs: { x: { dims: x }, w: { dims: w }, ...(bias ? { b: { dims: [w[0]!] } } : {}) },
    build: (b: GraphBuilder, v: Record<string, Value>) =>
      b.op('Conv', bias ? [v.x, v.w, v.b] : [v.x, v.w], attrs as never),
  };
}

describe('gradient rules vs finite differences: Conv', () => {
  check('Conv 3x3 pad 1', convCase([2, 3, 6, 6], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }));
  check(
    'Conv 3x3 stride 2 pad 1, even input (output_padding 1)',
    convCase([2, 3, 8, 8], [4, 3, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] }),
  );
  check(
    'Conv 3x3 stride 2 pad 1, odd input',
    convCase([2, 3, 7, 7], [4, 3, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2] }),
  );
  check('Conv 1x1 stride 2 (shortcut)', convCase([2, 4, 6, 6], [3, 4, 1, 1], { strides: [2, 2] }, false));
  check('Conv 1x1', convCase([2, 4, 5, 5], [3, 4, 1, 1], {}));
  check('Conv groups 2', convCase([2, 4, 6, 6], [6, 2, 3, 3], { group: 2, pads: [1, 1, 1, 1] }));
  check(
    'Conv depthwise, stride 2',
    convCase([2, 4, 7, 7], [4, 1, 3, 3], { group: 4, pads: [1, 1, 1, 1], strides: [2, 2] }),
  );
  check(
    'Conv depthwise multiplier 2',
    convCase([1, 3, 6, 6], [6, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1] }),
  );
  check(
    'Conv dilation 2, asymmetric pads',
    convCase([1, 2, 9, 8], [3, 2, 3, 2], { dilations: [2, 2], pads: [2, 1, 1, 0] }),
  );
  check(
    'Conv auto_pad SAME_UPPER stride 2',
    convCase([1, 2, 7, 8], [3, 2, 3, 3], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
  );
  check('Conv 1-D', convCase([2, 3, 10], [4, 3, 3], { pads: [1, 1], strides: [2] }));
  // the batch fills a block of 4: dW as one Conv over the batch (batch as channels)
  for (const [label, attrs] of [
    ['3x3 pad 1', { pads: [1, 1, 1, 1] }],
    ['3x3 stride 2 pad 1', { pads: [1, 1, 1, 1], strides: [2, 2] }],
    ['dilation 2, asymmetric pads', { dilations: [2, 2], pads: [2, 1, 1, 0] }],
  ] as [string, Record<string, number[]>][])
    check(`Conv ${label}, dW batch as channels`, {
      ...convCase([4, 2, 7, 6], [3, 2, 3, 3], attrs),
      block: 4,
    });
});

const poolInput = (dims: number[], seed: number) => ({
  dims,
  data: distinct(
    dims.reduce((a, b) => a * b, 1),
    seed,
  ),
});

describe('gradient rules vs finite differences: pooling', () => {
  check('MaxPool 2x2 stride 2 (no overlap, opset 13)', {
    opset: 13,
    inputs: { x: poolInput([2, 3, 6, 6], 1) },
    build: (b, v) => b.op('MaxPool', [v.x], { kernel_shape: [2, 2], strides: [2, 2] }),
  });
  check('MaxPool 3x3 stride 2 pad 1 (overlapping)', {
    inputs: { x: poolInput([2, 2, 7, 7], 2) },
    build: (b, v) => b.op('MaxPool', [v.x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  });
  check('MaxPool 2x2 stride 2 ceil_mode on 7x7', {
    inputs: { x: poolInput([1, 2, 7, 7], 3) },
    build: (b, v) => b.op('MaxPool', [v.x], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
  });
  for (const include of [0, 1])
    check(`AveragePool 3x3 stride 2 pad 1 count_include_pad ${include}`, {
      inputs: { x: { dims: [2, 2, 7, 7] } },
      build: (b, v) =>
        b.op('AveragePool', [v.x], {
          kernel_shape: [3, 3],
          strides: [2, 2],
          pads: [1, 1, 1, 1],
          count_include_pad: include,
        }),
    });
  check('AveragePool 2x2 stride 2 ceil_mode on 7x7', {
    inputs: { x: { dims: [1, 2, 7, 7] } },
    build: (b, v) => b.op('AveragePool', [v.x], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
  });
  check('GlobalAveragePool', {
    inputs: { x: { dims: [2, 3, 4, 5] } },
    build: (b, v) => b.op('GlobalAveragePool', [v.x]),
  });
  check('GlobalMaxPool', {
    inputs: { x: poolInput([2, 3, 4, 4], 4) },
    build: (b, v) => b.op('GlobalMaxPool', [v.x]),
  });
});

const i64 = (b: GraphBuilder, name: string, values: number[], dims = [values.length]) =>
  b.weight(name, Tensor.fromInt64(name, dims, values));

describe('gradient rules vs finite differences: data movement', () => {
  check('Flatten, Reshape, Squeeze, Unsqueeze (opset 13)', {
    opset: 13,
    inputs: { x: { dims: [2, 3, 4] } },
    build: (b, v) => {
      const f = b.op('Flatten', [v.x], { axis: 1 });
      const r = b.op('Reshape', [f, i64(b, 's', [2, 1, 12])]);
      const s = b.op('Squeeze', [r, i64(b, 'a1', [1])]);
      return b.op('Unsqueeze', [s, i64(b, 'a2', [0])]);
    },
  });
  check('Transpose', {
    inputs: { x: { dims: [2, 3, 4] } },
    build: (b, v) => b.op('Transpose', [v.x], { perm: [2, 0, 1] }),
  });
  check('Concat (axis 1)', {
    inputs: { x: { dims: [2, 3] }, y: { dims: [2, 2] } },
    build: (b, v) => b.op('Concat', [v.x, v.y, v.x], { axis: 1 }),
  });
  check('Split (one output used twice, one unused)', {
    inputs: { x: { dims: [2, 7] } },
    build: (b, v) => {
      const [p, , r] = b.node('Split', [v.x, i64(b, 'sp', [2, 3, 2])], { axis: 1 }, { outputs: 3 }).outputs;
      return b.op('Concat', [p!, r!, p!], { axis: 1 });
    },
  });
  check('Split (opset 11, split attribute)', {
    opset: 11,
    inputs: { x: { dims: [6, 2] } },
    build: (b, v) => {
      const [p, q] = b.node('Split', [v.x], { axis: 0, split: [4, 2] }, { outputs: 2 }).outputs;
      return b.op('Mul', [b.op('Slice', [p!, i64(b, 'st', [0]), i64(b, 'en', [2])]), q!]);
    },
  });
  check('Slice (unit steps, negative start)', {
    inputs: { x: { dims: [4, 6] } },
    build: (b, v) =>
      b.op('Slice', [v.x, i64(b, 'st', [1, -4]), i64(b, 'en', [3, 100]), i64(b, 'ax', [0, 1])]),
  });
  check('Slice (step 2 and step -1)', {
    inputs: { x: { dims: [5, 6] } },
    build: (b, v) =>
      b.op('Slice', [
        v.x,
        i64(b, 'st', [0, -1]),
        i64(b, 'en', [5, -100]),
        i64(b, 'ax', [0, 1]),
        i64(b, 'sp', [2, -1]),
      ]),
  });
  check('Pad (constant)', {
    inputs: { x: { dims: [2, 3] } },
    build: (b, v) => b.op('Pad', [v.x, i64(b, 'p', [1, 0, 0, 2])]),
  });
  check('Expand', {
    inputs: { x: { dims: [3, 1] } },
    build: (b, v) => b.op('Expand', [v.x, i64(b, 's', [2, 3, 4])]),
  });
});

describe('gradient rules vs finite differences: Gather', () => {
  check('Gather axis 0, repeated constant indices', {
    inputs: { d: { dims: [5, 3] } },
    build: (b, v) => b.op('Gather', [v.d, i64(b, 'i', [4, 0, 4, -1, 2, 0], [3, 2])], { axis: 0 }),
  });
  check('Gather axis 1, indices from an input (negative ones)', {
    inputs: {
      d: { dims: [2, 5, 3] },
      i: { dims: [4], dtype: DataType.INT64, data: BigInt64Array.from([1n, -1n, 1n, 3n]) },
    },
    build: (b, v) => b.op('Gather', [v.d, v.i], { axis: 1 }),
  });
  for (const opset of [13, 17])
    check(
      `codebook Gather (uint8 indices, Cast, opset ${opset}: ${opset >= 16 ? 'ScatterElements add' : 'one-hot Gemm'})`,
      {
        opset,
        inputs: { c: { dims: [4] } },
        build: (b, v) => {
          const idx = b.weight(
            'idx',
            Tensor.fromTyped(
              'idx',
              DataType.UINT8,
              [3, 5],
              Uint8Array.from([0, 1, 1, 3, 3, 3, 0, 2, 1, 0, 3, 2, 2, 1, 0]),
            ),
          );
          const w = b.op('Gather', [v.c, b.op('Cast', [idx], { to: DataType.INT64 })], { axis: 0 });
          return b.op('MatMul', [
            b.weight('a', Tensor.fromFloat32('a', [2, 3], [1, -2, 0.5, 0.3, 1.1, -0.7])),
            w,
          ]);
        },
      },
    );
  check('mask Mul (pruned weight)', {
    inputs: { w: { dims: [3, 4] }, x: { dims: [2, 3] } },
    build: (b, v) => {
      const mask = b.weight('m', Tensor.fromFloat32('m', [3, 4], [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1]));
      return b.op('MatMul', [v.x, b.op('Mul', [v.w, mask])]);
    },
  });
});

describe('gradient rules: quantization', () => {
  check('DequantizeLinear per-axis: scale gradient (learned scale)', {
    inputs: {
      q: {
        dims: [3, 4],
        dtype: DataType.INT8,
        data: Int8Array.from([-5, 3, 100, -128, 7, 0, 1, 2, 127, -3, -40, 9]),
      },
      s: { dims: [3], data: Float32Array.from([0.1, 0.02, 0.5]) },
    },
    build: (b, v) =>
      b.op(
        'DequantizeLinear',
        [v.q, v.s, b.weight('z', Tensor.fromTyped('z', DataType.INT8, [3], Int8Array.from([1, -2, 0])))],
        { axis: 0 },
      ),
    h: 1e-3,
  });

  it('DequantizeLinear and QuantizeLinear pass gradients straight through', async () => {
    const latent = Float32Array.from([0.3, -1.7, 2.2, 5.1, -0.4, 0.05, 3.9, -6.2]);
    // fake quantization of a weight: Round, Clip to int8 and Cast are straight-through (meta.ste)
    const r = await gradCheck({
      fd: false,
      inputs: { l: { dims: [2, 4], data: latent } },
      build: (b, v) => {
        const round = b.node('Round', [v.l]);
        round.meta.ste = true;
        const cast = b.node('Cast', [round.outputs[0]!], { to: DataType.INT8 });
        cast.meta.ste = true;
        const scale = b.weight('s', Tensor.fromFloat32('s', [2], [0.25, 2]));
        const w = b.op('DequantizeLinear', [cast.outputs[0]!, scale], { axis: 0 });
        // activation fake quantization: Q then DQ with a per-tensor scale, saturating at ±1.27 (some do)
        const as = b.weight('as', Tensor.fromFloat32('as', [], [0.01]));
        const az = b.weight('az', Tensor.fromTyped('az', DataType.INT8, [], Int8Array.from([0])));
        const q = b.op('QuantizeLinear', [
          b.op('Mul', [w, b.weight('k', Tensor.fromFloat32('k', [], [0.5]))]),
          as,
          az,
        ]);
        return b.op('DequantizeLinear', [q, as, az]);
      },
    });
    const g = r.analytic.l!;
    // d out / d latent = R · 0.5 · scale_row where 0.5·w stays inside the int8 range of the activation
    const scale = [0.25, 0.25, 0.25, 0.25, 2, 2, 2, 2];
    const inside = Array.from(latent, (x, i) => Math.abs((Math.round(x) * scale[i]! * 0.5) / 0.01) <= 127.5);
    expect(inside.filter((x) => !x).length).toBeGreaterThan(0); // the clipped estimator is exercised
    for (let i = 0; i < 8; i++) expect(g[i]).toBeCloseTo(inside[i] ? r.R[i]! * 0.5 * scale[i]! : 0, 6);
  });
});
