import { describe, expect, it } from 'vitest';
import { setAttr } from '../../src/ir/builder.js';
import { cloneModel } from '../../src/ir/clone.js';
import { modelCounts } from '../../src/ir/stats.js';
import { verifyModel } from '../../src/ir/verify.js';
import { SLIM_PASSES } from '../../src/passes/registry.js';
import { runPasses } from '../../src/pipeline/pass-manager.js';
import { step } from '../../src/pipeline/recipe.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, run, Tensor, weight } from '../helpers/models.js';

const slimSteps = () => [...SLIM_PASSES.map((id) => step(id)), step('topological-sort')];

function bn(b: GraphBuilder, x: Parameters<GraphBuilder['op']>[1][0], c: number, seed: number) {
  const gamma = b.weight(
    'gamma',
    Tensor.fromFloat32(
      'g',
      [c],
      Array.from({ length: c }, (_, i) => 0.5 + ((i * 7 + seed) % 5) / 4),
    ),
  );
  const beta = weight(b, 'beta', [c], seed + 1);
  const mean = weight(b, 'mean', [c], seed + 2);
  const variance = b.weight(
    'var',
    Tensor.fromFloat32(
      'v',
      [c],
      Array.from({ length: c }, (_, i) => 0.2 + ((i * 3 + seed) % 7) / 3),
    ),
  );
  return b.op(
    'BatchNormalization',
    [x, gamma, beta, mean, variance],
    { epsilon: 1e-3 },
    { floatAttrs: ['epsilon'] },
  );
}

describe('fold-batchnorm', () => {
  for (const [label, build] of [
    [
      'Conv (grouped, no bias)',
      (b: GraphBuilder, x: ReturnType<GraphBuilder['input']>) =>
        b.op('Conv', [x, weight(b, 'w', [8, 2, 3, 3], 1)], { group: 2, pads: [1, 1, 1, 1] }),
    ],
    [
      'ConvTranspose (grouped, with bias)',
      (b: GraphBuilder, x: ReturnType<GraphBuilder['input']>) =>
        b.op('ConvTranspose', [x, weight(b, 'w', [4, 4, 3, 3], 2), weight(b, 'bias', [8], 3)], {
          group: 2,
          strides: [2, 2],
        }),
    ],
  ] as const) {
    it(`folds into ${label} with outputs within 1e-5`, async () => {
      const m = newModel({ '': 17 });
      const b = new GraphBuilder(m.graph);
      const x = b.input('x', { elemType: 1, shape: [1, 4, 6, 6] });
      b.output(b.op('Relu', [bn(b, build(b, x), 8, 5)]));
      const before = await run(m, { x: floatFeed([1, 4, 6, 6], 9) });
      const { model } = await runPasses(cloneModel(m), slimSteps(), {
        runtime: nodeRuntime,
        fixedPoint: true,
      });
      expect(modelCounts(model).opTypes.BatchNormalization).toBeUndefined();
      expect(verifyModel(model)).toEqual([]);
      const after = await run(model, { x: floatFeed([1, 4, 6, 6], 9) });
      const out = Object.keys(before)[0]!;
      expect(maxAbsDiff(before[out]!, after[out]!)).toBeLessThan(1e-5);
    });
  }

  it('folds into Gemm (transB, beta) and into a 2-D MatMul', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [3, 5] });
    const g = b.op(
      'Gemm',
      [x, weight(b, 'w', [6, 5], 1), weight(b, 'c', [6], 2)],
      { transB: 1, beta: 0.5, alpha: 2 },
      { floatAttrs: ['beta', 'alpha'] },
    );
    const y = bn(b, g, 6, 3);
    const mm = b.op('MatMul', [y, weight(b, 'w2', [6, 4], 4)]);
    mm.setType({ elemType: 1, shape: [3, 4] });
    y.setType({ elemType: 1, shape: [3, 6] });
    b.output(bn(b, mm, 4, 7));
    const feeds = { x: floatFeed([3, 5], 1) };
    const before = await run(m, feeds);
    const { model, history } = await runPasses(cloneModel(m), slimSteps(), {
      runtime: nodeRuntime,
      fixedPoint: true,
    });
    expect(modelCounts(model).opTypes).toEqual({ Gemm: 2 });
    expect(history.find((h) => h.name === 'fold-batchnorm')!.stats.folded).toBe(2);
    const after = await run(model, feeds);
    const out = Object.keys(before)[0]!;
    expect(maxAbsDiff(before[out]!, after[out]!)).toBeLessThan(1e-5);
    // the graph output keeps its name
    expect(Object.keys(after)).toEqual(Object.keys(before));
  });
});

describe('remove-identity, lift-constants, fold-constants, dedupe, dead-code', () => {
  it('slims a TensorFlow-style graph and keeps outputs', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: ['N', 4] });
    // weights in Constant nodes, one of them read twice; a duplicate initializer
    const w = b.op('Constant', [], {
      value: Tensor.fromFloat32(
        'w',
        [4, 4],
        Array.from({ length: 16 }, (_, i) => (i % 5) / 3 - 0.5),
      ),
    });
    const id = b.op('Identity', [x]);
    const a1 = b.op('MatMul', [id, w]);
    const a2 = b.op('MatMul', [a1, w]);
    const ratio = b.weight('ratio', Tensor.fromFloat32('ratio', [], [0.5]));
    const dropped = b.node('Dropout', [a2, ratio], {}, { outputs: 2 }).outputs[0]!;
    // static shape chain on a constant: Shape(w) -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape
    const shape = b.op('Shape', [w]);
    const idx = b.weight('idx0', Tensor.fromInt64('i', [], [0]));
    const g0 = b.op('Gather', [shape, idx], { axis: 0 });
    const ax = b.weight('ax', Tensor.fromInt64('a', [1], [0]));
    const u = b.op('Unsqueeze', [g0, ax]);
    const minus1 = b.weight('m1', Tensor.fromInt64('m', [1], [-1]));
    const minus1dup = b.weight('m1dup', Tensor.fromInt64('m', [1], [-1]));
    const target = b.op('Concat', [minus1, u], { axis: 0 });
    const r = b.op('Reshape', [dropped, target]);
    const r2 = b.op('Reshape', [r, b.op('Concat', [minus1dup, u], { axis: 0 })]);
    const dead = b.op('Relu', [x]);
    void dead;
    b.output(b.op('Softmax', [r2], { axis: 1 }));
    expect(verifyModel(m)).toEqual([]);
    const feeds = { x: floatFeed([3, 4], 2) };
    const before = await run(m, feeds);
    const { model } = await runPasses(cloneModel(m), slimSteps(), { runtime: nodeRuntime, fixedPoint: true });
    const ops = modelCounts(model).opTypes;
    expect(ops.Constant).toBeUndefined();
    expect(ops.Identity).toBeUndefined();
    expect(ops.Dropout).toBeUndefined();
    expect(ops.Shape).toBeUndefined();
    expect(ops.Concat).toBeUndefined();
    expect(ops.Relu).toBeUndefined();
    expect(ops.MatMul).toBe(2);
    // the weight read twice stays one initializer; the duplicate [-1] constants merged
    expect(model.graph.initializers.filter((v) => v.initializer!.size === 16)).toHaveLength(1);
    const after = await run(model, feeds);
    const out = Object.keys(before)[0]!;
    expect(maxAbsDiff(before[out]!, after[out]!)).toBeLessThan(1e-6);
  });

  it('works inside If branches', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 4] });
    const cond = b.input('cond', { elemType: 9, shape: [] });
    const ifNode = b.node('If', [cond], {}, { outputs: ['y'] });
    for (const [branch, seed] of [
      ['then_branch', 1],
      ['else_branch', 2],
    ] as const) {
      const { Graph } = await import('../../src/ir/graph.js');
      const g = new Graph(m, ifNode);
      g.name = branch;
      const gb = new GraphBuilder(g);
      const c = gb.op('Constant', [], {
        value: Tensor.fromFloat32(
          'c',
          [4, 4],
          Array.from({ length: 16 }, (_, i) => ((i + seed) % 3) - 1),
        ),
      });
      const idn = gb.op('Identity', [x]);
      const mm = gb.op('MatMul', [idn, c]);
      mm.setType({ elemType: 1, shape: [1, 4] });
      idn.setType({ elemType: 1, shape: [1, 4] });
      const out = gb.op('Add', [mm, weight(gb, `bias${seed}`, [4], seed)]);
      out.setType({ elemType: 1, shape: [1, 4] });
      gb.output(out);
      setAttr(ifNode, branch, g);
    }
    b.output(ifNode.outputs[0]!);
    expect(verifyModel(m)).toEqual([]);
    const feeds = (c: number) => ({
      x: floatFeed([1, 4], 3),
      cond: { dtype: 9, dims: [], data: new Uint8Array([c]) },
    });
    const before = [await run(m, feeds(1)), await run(m, feeds(0))];
    const { model } = await runPasses(cloneModel(m), slimSteps(), { runtime: nodeRuntime, fixedPoint: true });
    const branches = model.graph.nodes[0]!.subgraphs();
    for (const g of branches) expect(g.nodes.map((n) => n.opType)).toEqual(['Gemm']);
    const after = [await run(model, feeds(1)), await run(model, feeds(0))];
    for (let i = 0; i < 2; i++) expect(maxAbsDiff(before[i]!.y!, after[i]!.y!)).toBeLessThan(1e-6);
  });
});

describe('numerical guard', () => {
  it('rolls back a lossless pass that changes outputs, naming it', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 4] });
    b.output(b.op('Relu', [x]));
    const { definePass, noOptions, result } = await import('../../src/passes/pass.js');
    const broken = definePass({
      id: 'broken-lossless',
      summary: 'claims to be lossless, is not',
      lossless: true,
      options: noOptions,
      apply(model) {
        model.graph.nodes[0]!.opType = 'Sigmoid';
        return result({ changed: 1 });
      },
    });
    const warnings: string[] = [];
    const { model, history } = await runPasses(m, [{ pass: broken, options: {} }], {
      runtime: nodeRuntime,
      guardFeeds: [{ x: floatFeed([1, 4], 1) }],
      log: { info() {}, warn: (w) => warnings.push(w) },
    });
    expect(history[0]!.rolledBack).toBe(true);
    expect(model.graph.nodes[0]!.opType).toBe('Relu');
    expect(warnings[0]).toMatch(/^broken-lossless changed the outputs/);
  });
});
