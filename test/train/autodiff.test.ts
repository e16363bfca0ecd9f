// The differentiation engine around the rules: ops without a rule, values that need no gradient,
// several uses of one value.
import { describe, expect, it } from 'vitest';
import { EdgefitError } from '../../src/errors.js';
import { buildBackward } from '../../src/train/autodiff.js';
import { GraphBuilder, newModel } from '../helpers/models.js';

function chain(op: string) {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: [2, 3] });
  const w = b.input('w', { elemType: 1, shape: [3, 3] });
  const y = b.op(op, [b.op('MatMul', [x, w])]);
  const dy = b.input('dy', { elemType: 1, shape: [2, 3] });
  return { m, x, w, y, dy };
}

describe('buildBackward', () => {
  it('an op on the gradient path without a rule is one line naming it', () => {
    const { m, w, y, dy } = chain('Atan');
    let err: unknown;
    try {
      buildBackward(m, { seeds: new Map([[y, dy]]), wrt: [w] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EdgefitError);
    expect((err as Error).message).toMatch(
      /^cannot fine-tune through Atan \(node Atan\): edgefit has no gradient rule for it/,
    );
    expect((err as Error).message).not.toContain('\n');
  });

  it('computes only what the wanted gradients need', () => {
    const { m, w, y, dy } = chain('Relu');
    const before = m.graph.nodes.length;
    const { grads } = buildBackward(m, { seeds: new Map([[y, dy]]), wrt: [w] });
    expect(grads.has(w)).toBe(true);
    // Relu mask (Greater, Cast, Mul) and one Gemm for dW; no gradient for the input x
    const added = m.graph.nodes.slice(before).map((n) => n.opType);
    expect(added).toEqual(['Greater', 'Cast', 'Mul', 'Gemm']);
  });
});
