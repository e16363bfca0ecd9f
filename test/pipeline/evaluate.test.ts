// evaluate(): a reference's top-1 classes, computed once, give the same agreement as running the
// reference model beside every candidate (the search measures each candidate this way).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openDataset } from '../../src/node/data-files.js';
import { loadModel } from '../../src/node/model-io.js';
import { evaluate } from '../../src/pipeline/evaluate.js';
import { nodeRuntime } from '../../src/runtime/node.js';

const REF = 'test/fixtures/models/mlp-gemm.onnx';
const CAND = 'test/fixtures/models/lenet-300-100.onnx';

describe('evaluate with reference classes', () => {
  it('agreement from classes equals agreement from running the reference', async () => {
    const data = await openDataset(loadModel(REF), 'examples/fashion-mnist-1k.npz', { limit: 400 });
    const ref = await evaluate(nodeRuntime, REF, data, { classes: true });
    expect(ref.classes).toHaveLength(400);
    expect(Math.min(...ref.classes!)).toBeGreaterThanOrEqual(0);
    const withModel = await evaluate(nodeRuntime, CAND, data, {
      reference: new Uint8Array(readFileSync(REF)),
    });
    const withClasses = await evaluate(nodeRuntime, CAND, data, { referenceClasses: ref.classes! });
    expect(withClasses.agreement).toBe(withModel.agreement);
    expect(withModel.agreement).toBeGreaterThan(0.7);
    expect(withModel.agreement).toBeLessThan(1); // two different models: some samples disagree
    expect((await evaluate(nodeRuntime, REF, data, { referenceClasses: ref.classes! })).agreement).toBe(1);
  });
});
