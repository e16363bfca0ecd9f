// Channel pruning removes channels physically; channels whose filters are zero carry nothing, so
// removing exactly those must leave the outputs unchanged — through Relu, BatchNorm, a depthwise conv,
// a residual Add, MaxPool, GlobalAveragePool/Flatten and a Gemm.
import { describe, expect, it } from 'vitest';
import { cloneModel } from '../../src/ir/clone.js';
import type { Value } from '../../src/ir/graph.js';
import { modelCounts } from '../../src/ir/stats.js';
import { verifyModel } from '../../src/ir/verify.js';
import { Rng } from '../../src/kernels/random.js';
import { pruneChannels } from '../../src/passes/prune/prune-channels.js';
import { removeUnused } from '../../src/passes/util.js';
import { floatFeed, GraphBuilder, maxAbsDiff, newModel, randn, run, Tensor } from '../helpers/models.js';

const ctx = { log: { info() {}, warn() {} }, rng: new Rng(0), selects: () => true };

/** conv weight [m, c, 3, 3] whose output channels in `dead` are all zero */
function convWeight(
  b: GraphBuilder,
  name: string,
  m: number,
  c: number,
  k: number,
  dead: Set<number>,
  seed: number,
): Value {
  const per = c * k * k;
  const w = randn(m * per, seed, 0.3).map((v, i) => (dead.has(Math.floor(i / per)) ? 0 : v));
  return b.weight(name, Tensor.fromFloat32(name, [m, c, k, k], w));
}

function bias(b: GraphBuilder, name: string, m: number, dead: Set<number>, seed: number): Value {
  return b.weight(
    name,
    Tensor.fromFloat32(
      name,
      [m],
      randn(m, seed, 0.1).map((v, i) => (dead.has(i) ? 0 : v)),
    ),
  );
}

describe('prune-channels', () => {
  it('removing channels that carry nothing leaves outputs unchanged, and shrinks the weights', async () => {
    const C = 16;
    const dead = new Set([1, 4, 7, 10, 13]); // 5 of 16: sparsity 0.32 removes exactly these (lowest L1)
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: ['N', 3, 12, 12] });
    const c1 = b.op('Relu', [
      b.op('Conv', [x, convWeight(b, 'w1', C, 3, 3, dead, 1), bias(b, 'b1', C, dead, 2)], {
        pads: [1, 1, 1, 1],
      }),
    ]);
    // depthwise conv keeps the channel space; its dead channels stay dead
    const dw = b.op('Conv', [c1, convWeight(b, 'wdw', C, 1, 3, dead, 3), bias(b, 'bdw', C, dead, 4)], {
      group: C,
      pads: [1, 1, 1, 1],
    });
    const c2 = b.op('Conv', [dw, convWeight(b, 'w2', C, C, 1, dead, 5), bias(b, 'b2', C, dead, 6)]);
    const res = b.op('Relu', [b.op('Add', [c1, c2])]); // residual: one channel space for c1, c2, res
    const pooled = b.op('MaxPool', [res], { kernel_shape: [2, 2], strides: [2, 2] });
    const flat = b.op('Flatten', [b.op('GlobalAveragePool', [pooled])]);
    b.output(
      b.op(
        'Gemm',
        [
          flat,
          b.weight('fc', Tensor.fromFloat32('fc', [10, C], randn(10 * C, 7))),
          b.weight('fcb', Tensor.fromFloat32('fcb', [10], randn(10, 8))),
        ],
        { transB: 1 },
      ),
    );
    const pruned = cloneModel(m);
    const r = await pruneChannels.apply(
      pruned,
      pruneChannels.options.parse({ sparsity: 0.32, roundTo: 1 }),
      ctx,
    );
    expect(r.stats.channelsRemoved).toBe(5);
    expect(verifyModel(pruned)).toEqual([]);
    const feeds = { x: floatFeed([2, 3, 12, 12], 9) };
    const [a, p] = [await run(m, feeds), await run(pruned, feeds)];
    const out = Object.keys(a)[0]!;
    expect(maxAbsDiff(a[out]!, p[out]!)).toBeLessThan(1e-5);
    removeUnused(pruned.graph); // the old, unsliced weights
    expect(modelCounts(pruned).params).toBeLessThan(modelCounts(m).params * 0.75);
    const dwNode = pruned.graph.nodes.find((n) => n.opType === 'Conv' && n.attributes.has('group'))!;
    expect(Number(dwNode.attributes.get('group')!.proto.i)).toBe(11);
  });

  it('leaves spaces that reach a graph output or a Concat whole', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 3, 8, 8] });
    const c1 = b.op('Conv', [x, convWeight(b, 'w1', 16, 3, 3, new Set(), 1)], { pads: [1, 1, 1, 1] });
    const c2 = b.op('Conv', [x, convWeight(b, 'w2', 16, 3, 3, new Set(), 2)], { pads: [1, 1, 1, 1] });
    b.output(b.op('Concat', [c1, c2], { axis: 1 }));
    const r = await pruneChannels.apply(m, pruneChannels.options.parse({ sparsity: 0.5 }), ctx);
    expect(r.changed).toBe(false);
  });
});
