// fold-constants never grows a model (rule 5) and never builds a tensor beyond its cap (rule 4); the
// pass manager refuses a lossless pass that grows the weights; the guard's bar follows the model's
// own rounding noise. Graphs reproduce what the real-model corpus found (Silero VAD, PP-OCRv4 det).
import { describe, expect, it } from 'vitest';
import { setAttr } from '../../src/ir/builder.js';
import { cloneModel } from '../../src/ir/clone.js';
import { Graph, type Model } from '../../src/ir/graph.js';
import { modelCounts } from '../../src/ir/stats.js';
import { verifyModel } from '../../src/ir/verify.js';
import { definePass, noOptions, result } from '../../src/passes/pass.js';
import { runPasses } from '../../src/pipeline/pass-manager.js';
import { step } from '../../src/pipeline/recipe.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, run, Tensor, weight } from '../helpers/models.js';

const i64 = (b: GraphBuilder, name: string, values: number[]) =>
  b.weight(name, Tensor.fromInt64(name, [values.length], values));

/** Silero's shape: an outer [64, 16] weight sliced into gate blocks and re-concatenated in both If branches. */
function slicedInBothBranches(): Model {
  const m = newModel({ '': 13 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: [1, 16] });
  const cond = b.input('cond', { elemType: 9, shape: [] });
  const w = weight(b, 'w', [64, 16], 1);
  const ifNode = b.node('If', [cond], {}, { outputs: ['y'] });
  for (const branch of ['then_branch', 'else_branch'] as const) {
    const g = new Graph(m, ifNode);
    g.name = branch;
    const gb = new GraphBuilder(g);
    const part = (k: number) => {
      const s = gb.op('Slice', [
        w,
        i64(gb, `s${k}`, [16 * k]),
        i64(gb, `e${k}`, [16 * k + 16]),
        i64(gb, `a${k}`, [0]),
      ]);
      s.setType({ elemType: 1, shape: [16, 16] });
      return s;
    };
    const cat = gb.op('Concat', [part(1), part(0), part(3), part(2)], { axis: 0 });
    cat.setType({ elemType: 1, shape: [64, 16] });
    const t = gb.op('Transpose', [cat], { perm: [1, 0] });
    t.setType({ elemType: 1, shape: [16, 64] });
    const y = gb.op('MatMul', [x, t]);
    y.setType({ elemType: 1, shape: [1, 64] });
    gb.output(y);
    setAttr(ifNode, branch, g);
  }
  b.output(ifNode.outputs[0]!);
  return m;
}

describe('fold-constants', () => {
  it('does not copy an outer weight into both If branches (Silero VAD grew 1.4x)', async () => {
    const m = slicedInBothBranches();
    expect(verifyModel(m)).toEqual([]);
    const before = modelCounts(m).weightBytes;
    const { model, history } = await runPasses(cloneModel(m), [step('fold-constants'), step('dead-code')], {
      runtime: nodeRuntime,
    });
    expect(modelCounts(model).weightBytes).toBeLessThanOrEqual(before);
    expect(history[0]!.stats.skippedGrowth).toBeGreaterThan(0);
    const feeds = (c: number) => ({
      x: floatFeed([1, 16], 2),
      cond: { dtype: 9, dims: [], data: new Uint8Array([c]) },
    });
    for (const c of [0, 1])
      expect(maxAbsDiff((await run(m, feeds(c))).y!, (await run(model, feeds(c))).y!)).toBe(0);
  });

  it('folds a weight read in one place only, and the original weight goes', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 16] });
    const t = b.op('Transpose', [weight(b, 'w', [32, 16], 1)], { perm: [1, 0] });
    t.setType({ elemType: 1, shape: [16, 32] });
    b.output(b.op('MatMul', [x, t]));
    const before = modelCounts(m).weightBytes;
    const { model, history } = await runPasses(m, [step('fold-constants')], { runtime: nodeRuntime });
    expect(history[0]!.stats.folded).toBe(1);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['MatMul']);
    expect(modelCounts(model).weightBytes).toBe(before);
  });

  it('never evaluates a node whose inferred output is beyond maxBytes (a 4e11-byte ConstantOfShape)', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1] });
    const big = b.op('ConstantOfShape', [i64(b, 'shape', [100000, 1000000])]);
    const r = b.op('ReduceSum', [big], { keepdims: 0 });
    b.output(b.op('Add', [x, r]));
    const warnings: string[] = [];
    const t0 = performance.now();
    const { model, history } = await runPasses(m, [step('fold-constants')], {
      runtime: nodeRuntime,
      log: { info() {}, warn: (w) => warnings.push(w) },
    });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(history[0]!.stats.skippedCap).toBe(1);
    expect(model.graph.nodes.map((n) => n.opType)).toContain('ConstantOfShape');
    expect(warnings.join('\n')).toMatch(
      /fold-constants: not folding 1 node.*exceed 268435456 bytes.*maxBytes/,
    );
    // the cap is an option: a small one stops a small fold too
    const m2 = newModel({ '': 13 });
    const b2 = new GraphBuilder(m2.graph);
    const x2 = b2.input('x', { elemType: 1, shape: [1] });
    b2.output(
      b2.op('Add', [
        x2,
        b2.op('ReduceSum', [b2.op('ConstantOfShape', [i64(b2, 'shape', [64])])], { keepdims: 0 }),
      ]),
    );
    const capped = await runPasses(m2, [step('fold-constants', { maxBytes: 64 })], { runtime: nodeRuntime });
    expect(capped.history[0]!.stats.skippedCap).toBe(1);
  });
});

describe('pass manager', () => {
  it('rolls back a lossless pass that grows the weights, with a warning', async () => {
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 4] });
    b.output(b.op('Add', [x, weight(b, 'w', [4], 1)]));
    const grows = definePass({
      id: 'grows-lossless',
      summary: 'duplicates a weight',
      lossless: true,
      options: noOptions,
      apply(model) {
        const add = model.graph.nodes[0]!;
        const gb = new GraphBuilder(model.graph);
        add.setInput(1, gb.op('Add', [weight(gb, 'w2', [4], 1), weight(gb, 'w3', [4], 2)]));
        model.graph.nodes.unshift(model.graph.nodes.pop()!);
        return result({ n: 1 });
      },
    });
    const warnings: string[] = [];
    const r = await runPasses(m, [{ pass: grows, options: {} }], {
      log: { info() {}, warn: (w) => warnings.push(w) },
    });
    expect(warnings.join(' ')).toMatch(/grows-lossless grew the weights \(16 -> 32 bytes\).*rolled back/);
    expect(r.history[0]!.rolledBack).toBe(true);
    expect(r.model.graph.initializers.length).toBe(1);
  });

  it("raises a sample's bar to the model's own rounding noise", async () => {
    // PP-OCRv4 det on synthetic inputs: its sigmoid outputs are all ~1e-5 and ORT computes them to an
    // absolute ~1e-7, so one ulp anywhere upstream moves them by 1e-3 of the largest. Here the same
    // absolute floor: c = (1000 x + 1e6) - 1e6 is 1000 x rounded to 1/16
    const m = newModel({ '': 13 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 16384] });
    const k = b.weight('k', Tensor.fromFloat32('k', [1], [1000]));
    const big = b.weight('big', Tensor.fromFloat32('big', [1], [1e6]));
    b.output(b.op('Sub', [b.op('Add', [b.op('Mul', [x, k]), big]), big]));
    // the same math with other float32 rounding: x / 0.001 for x * 1000
    const reorder = definePass({
      id: 'reorder-lossless',
      summary: 'same math, other float32 rounding',
      lossless: true,
      options: noOptions,
      apply(model) {
        const mul = model.graph.nodes.find((n) => n.opType === 'Mul')!;
        const k = mul.inputs[1]!;
        mul.opType = 'Div';
        mul.setInput(1, new GraphBuilder(model.graph).weight('inv', Tensor.fromFloat32('inv', [1], [0.001])));
        model.graph.removeInitializer(k);
        return result({ n: 1 });
      },
    });
    const feeds = [{ x: floatFeed([1, 16384], 5) }];
    const warnings: string[] = [];
    const r = await runPasses(cloneModel(m), [{ pass: reorder, options: {} }], {
      runtime: nodeRuntime,
      guardFeeds: feeds,
      log: { info() {}, warn: (w) => warnings.push(w) },
    });
    expect(warnings).toEqual([]);
    expect(r.history[0]!.changed).toBe(true);
    // it did change the outputs by more than the fixed 1e-5 bar
    const [a, c] = [await run(m, feeds[0]!), await run(r.model, feeds[0]!)];
    const out = Object.keys(a)[0]!;
    expect(maxAbsDiff(a[out]!, c[out]!) / 4000).toBeGreaterThan(1e-5);
  });
});
