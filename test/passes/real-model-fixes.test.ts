// What the real-model corpus (test/corpus/real-models.json) found, each on a hand-built graph that
// reproduces it: opset 9/11 models quantized (PaddleOCR), LSTM weights in dynamic int8 (Silero VAD
// v4), fixed-batch calibration (openWakeWord), ORT messages kept whole, and passes that say why
// they changed nothing.
import { describe, expect, it } from 'vitest';
import { bindArrays } from '../../src/data/dataset.js';
import { errorLine } from '../../src/errors.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { verifyModel } from '../../src/ir/verify.js';
import { upgradeBlocker, upgradeOpset } from '../../src/passes/quantize/opset.js';
import { runPasses } from '../../src/pipeline/pass-manager.js';
import { step } from '../../src/pipeline/recipe.js';
import { transformModel } from '../../src/pipeline/transform.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, run, Tensor, weight } from '../helpers/models.js';

/** PaddleOCR's opset-9 head: Clip(min, max attrs), Slice(attrs), Squeeze(axes attr), MatMul, Softmax(axis 1 of 3-D). */
function opset9Head(): Model {
  const m = newModel({ '': 9 }, 6);
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: [2, 1, 8, 32] });
  const c = b.op('Clip', [x], { min: -1.5, max: 1.5 }, { floatAttrs: ['min', 'max'] });
  const s = b.op('Slice', [c], { starts: [0], ends: [6], axes: [2] });
  const q = b.op('Squeeze', [s], { axes: [1] });
  const mm = b.op('MatMul', [q, weight(b, 'w', [32, 24], 1)]);
  b.output(b.op('Softmax', [mm], { axis: 1 }));
  return m;
}

describe('opset upgrade (opset.ts)', () => {
  it('rewrites Clip, Slice, Squeeze and the 2-D Softmax of opset 9 into opset 13 with the same outputs', async () => {
    const m = opset9Head();
    const feeds = { x: floatFeed([2, 1, 8, 32], 3) };
    const before = await run(m, feeds);
    const up = cloneModel(m);
    expect(upgradeBlocker(up, 13)).toBeUndefined();
    expect(upgradeOpset(up, 13)).toBe(4);
    expect(up.opset('')).toBe(13);
    expect(verifyModel(up)).toEqual([]);
    expect(up.graph.nodes.map((n) => n.opType)).toEqual([
      'Clip',
      'Slice',
      'Squeeze',
      'MatMul',
      'Flatten',
      'Shape',
      'Softmax',
      'Reshape',
    ]);
    const after = await run(up, feeds);
    const out = Object.keys(before)[0]!;
    expect(maxAbsDiff(before[out]!, after[out]!)).toBeLessThan(1e-6);
  });

  it('says which op blocks it and changes nothing then', () => {
    const m = newModel({ '': 9 }, 6);
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 1, 4, 4] });
    b.output(b.op('Upsample', [x, b.weight('s', Tensor.fromFloat32('s', [4], [1, 1, 2, 2]))]));
    expect(upgradeBlocker(m, 13)).toMatch(/Upsample changed meaning in opset 10/);
    expect(upgradeOpset(m, 13)).toBeUndefined();
    expect(m.opset('')).toBe(9);
  });

  it('dynamic int8 on an opset-9 model writes a model ORT runs (was: no DynamicQuantizeLinear for opset 9)', async () => {
    const m = opset9Head();
    const { model, history } = await runPasses(cloneModel(m), [
      step('quantize-dynamic-int8', { minElements: 1 }),
    ]);
    expect(history[0]!.changed).toBe(true);
    expect(model.opset('')).toBe(11); // DynamicQuantizeLinear's opset
    const feeds = { x: floatFeed([2, 1, 8, 32], 3) };
    const [a, c] = [await run(m, feeds), await run(model, feeds)];
    const out = Object.keys(a)[0]!;
    expect(maxAbsDiff(a[out]!, c[out]!)).toBeLessThan(0.05);
  });

  it('static per-channel int8 on an opset-11 conv writes no DequantizeLinear axis below 13', async () => {
    const m = newModel({ '': 11 }, 6);
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 3, 8, 8] });
    const y = b.op('Conv', [x, weight(b, 'w', [4, 3, 3, 3], 1), weight(b, 'bias', [4], 2)], {
      pads: [1, 1, 1, 1],
    });
    b.output(
      b.op('Clip', [
        y,
        b.weight('lo', Tensor.fromFloat32('lo', [], [0])),
        b.weight('hi', Tensor.fromFloat32('hi', [], [6])),
      ]),
    );
    const data = bindArrays(
      m,
      new Map([
        [
          'x',
          {
            dtype: 'float32' as const,
            shape: [4, 3, 8, 8],
            data: floatFeed([4, 3, 8, 8], 5).data as Float32Array,
          },
        ],
      ]),
      'test',
    );
    const r = await runPasses(cloneModel(m), [step('quantize-static-int8', { samples: 4 })], {
      runtime: nodeRuntime,
      calibration: data,
    });
    expect(r.model.opset('')).toBe(13);
    for (const n of r.model.graph.nodes)
      if (n.opType === 'DequantizeLinear' && n.attributes.has('axis'))
        expect(r.model.opset('')).toBeGreaterThanOrEqual(13);
    await run(r.model, { x: floatFeed([1, 3, 8, 8], 6) }); // loads and runs
    // per tensor (no upgrade needed at 11): the bias DequantizeLinear is per tensor too
    const pt = await runPasses(
      cloneModel(m),
      [step('quantize-static-int8', { samples: 4, perTensor: true })],
      {
        runtime: nodeRuntime,
        calibration: data,
      },
    );
    expect(pt.model.opset('')).toBe(11);
    expect(pt.model.graph.nodes.filter((n) => n.attributes.has('axis'))).toEqual([]);
    await run(pt.model, { x: floatFeed([1, 3, 8, 8], 6) });
  });
});

describe('dynamic int8 LSTM (DynamicQuantizeLSTM)', () => {
  it('quantizes a constant-weight LSTM inside an If branch, outputs close to float', async () => {
    const { Graph } = await import('../../src/ir/graph.js');
    const { setAttr } = await import('../../src/ir/builder.js');
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [5, 1, 16] });
    const cond = b.input('cond', { elemType: 9, shape: [] });
    const ifNode = b.node('If', [cond], {}, { outputs: ['y'] });
    for (const branch of ['then_branch', 'else_branch'] as const) {
      const g = new Graph(m, ifNode);
      g.name = branch;
      const gb = new GraphBuilder(g);
      const lstm = gb.node(
        'LSTM',
        [
          x,
          weight(gb, `W_${branch}`, [1, 128, 16], 1, 0.3),
          weight(gb, `R_${branch}`, [1, 128, 32], 2, 0.3),
          weight(gb, `B_${branch}`, [1, 256], 3, 0.1),
        ],
        { hidden_size: 32 },
        { outputs: 3 },
      );
      const y = lstm.outputs[0]!;
      y.setType({ elemType: 1, shape: [5, 1, 1, 32] });
      gb.output(y);
      setAttr(ifNode, branch, g);
    }
    b.output(ifNode.outputs[0]!);
    expect(verifyModel(m)).toEqual([]);
    const { model, history } = await runPasses(cloneModel(m), [
      step('quantize-dynamic-int8'),
      step('dead-code'),
    ]);
    expect(history[0]!.stats.lstms).toBe(2);
    expect([...model.graph.allNodes()].filter((n) => n.opType === 'DynamicQuantizeLSTM')).toHaveLength(2);
    const feeds = { x: floatFeed([5, 1, 16], 4), cond: { dtype: 9, dims: [], data: new Uint8Array([1]) } };
    const [a, c] = [await run(m, feeds), await run(model, feeds)];
    expect(maxAbsDiff(a.y!, c.y!)).toBeLessThan(0.02);
  });
});

describe('dynamic int8 LSTM with computed weights (Silero VAD v5)', () => {
  it('folds W/R computed from constants, then quantizes', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [3, 1, 16] });
    const unsq = (w: ReturnType<typeof weight>) =>
      b.op('Unsqueeze', [w, b.weight('ax', Tensor.fromInt64('ax', [1], [0]))]);
    const lstm = b.node(
      'LSTM',
      [x, unsq(weight(b, 'W', [128, 16], 1, 0.3)), unsq(weight(b, 'R', [128, 32], 2, 0.3))],
      { hidden_size: 32 },
      { outputs: 3 },
    );
    b.output(lstm.outputs[0]!);
    const { model, history } = await runPasses(
      cloneModel(m),
      [step('quantize-dynamic-int8'), step('dead-code')],
      {
        runtime: nodeRuntime,
      },
    );
    expect(history[0]!.stats.lstms).toBe(1);
    const feeds = { x: floatFeed([3, 1, 16], 4) };
    const [a, c] = [await run(m, feeds), await run(model, feeds)];
    const out = Object.keys(a)[0]!;
    expect(maxAbsDiff(a[out]!, c[out]!)).toBeLessThan(0.02);
  });
});

describe('fixed batch and whole messages', () => {
  it('calibrates a model whose batch is fixed to 1 one sample per run (openWakeWord)', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 96] });
    b.output(b.op('Relu', [b.op('Gemm', [x, weight(b, 'w', [96, 64], 1), weight(b, 'c', [64], 2)])]));
    const data = bindArrays(
      m,
      new Map([
        [
          'x',
          { dtype: 'float32' as const, shape: [8, 96], data: floatFeed([8, 96], 3).data as Float32Array },
        ],
      ]),
      'test',
    );
    const r = await runPasses(cloneModel(m), [step('quantize-static-int8', { samples: 8 })], {
      runtime: nodeRuntime,
      calibration: data,
    });
    expect(r.history[0]!.changed).toBe(true);
  });

  it("keeps ORT's lines after 'for the following indices' in the one-line message", () => {
    const e = new Error(
      '[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: x for the following indices\n index: 0 Got: 8 Expected: 1\n Please fix either the inputs/outputs or the model.',
    );
    expect(errorLine(e)).toBe(
      'Got invalid dimensions for input: x for the following indices index: 0 Got: 8 Expected: 1 Please fix either the inputs/outputs or the model.',
    );
  });
});

describe('a technique that changes nothing says why, once', () => {
  const convNet = () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 32, 8, 8] });
    const c1 = b.op('Conv', [x, weight(b, 'w1', [32, 32, 3, 3], 1)], { pads: [1, 1, 1, 1] });
    b.output(b.op('Conv', [b.op('Relu', [c1]), weight(b, 'w2', [32, 32, 3, 3], 2)], { pads: [1, 1, 1, 1] }));
    return m;
  };
  for (const [id, want] of [
    [
      'quantize-weight-int8',
      /^quantize-weight-int8 quantized 0 of 2 weight tensors: 2 Conv weight\(s\): need --conv .* or --mode static$/,
    ],
    [
      'quantize-weight-int4',
      /^quantize-weight-int4 quantized 0 of 2 weight tensors: 2 Conv weight\(s\): need --conv/,
    ],
    [
      'decompose-svd',
      /^decompose-svd changed 0 of 2 weight tensors: 2 Conv weight\(s\): left alone with --conv none \(use --conv tucker or spatial\)$/,
    ],
    [
      'quantize-dynamic-int8',
      /^quantize-dynamic-int8 quantized nothing: 2 Conv weight\(s\) stay float .*--conv/,
    ],
  ] as const)
    it(id, async () => {
      // decompose factors convs (Tucker-2) by default: what it says when told not to
      const options = id === 'decompose-svd' ? { conv: 'none' } : {};
      const r = await transformModel(convNet(), { steps: [step(id, options)] }, { runtime: nodeRuntime });
      const mine = r.warnings.filter((w) => w.startsWith(id));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatch(want);
    });

  it('--exclude naming no node says so (it was ignored)', async () => {
    for (const id of ['quantize-dynamic-int8', 'quantize-fp16']) {
      const r = await transformModel(
        convNet(),
        { steps: [step(id, { exclude: ['NoSuchNode', 'Conv'] })] },
        { runtime: nodeRuntime },
      );
      expect(r.warnings.filter((w) => w.includes('--exclude'))).toEqual([
        `${id}: --exclude NoSuchNode matches no node (names are node names or globs, or op types; see edgefit inspect)`,
      ]);
    }
  });

  it('cluster, prune and decompose on a quantized model say it is quantized', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [4, 64] });
    b.output(b.op('MatMul', [x, weight(b, 'w', [64, 64], 1)]));
    const q = (await runPasses(m, [step('quantize-weight-int8', { format: 'qdq', minElements: 1 })])).model;
    for (const id of ['cluster-weights', 'prune-weights', 'decompose-svd']) {
      const r = await transformModel(cloneModel(q), { steps: [step(id)] }, { runtime: nodeRuntime });
      expect(r.warnings.join('\n'), id).toMatch(
        new RegExp(`^${id} changed 0 of .*already quantized \\(it has DequantizeLinear\\)`, 'm'),
      );
    }
  });
});
