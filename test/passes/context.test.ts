// Data-aware passes get what they need through the PassContext that runPasses builds: collection over
// the calibration data (static int8) and ONNX Runtime matrix products (GPTQ). A recipe uses the CLI's
// option names.
import { describe, expect, it } from 'vitest';
import { bindArrays } from '../../src/data/dataset.js';
import { cloneModel } from '../../src/ir/clone.js';
import type { Model } from '../../src/ir/graph.js';
import { compareOutputs, runPasses } from '../../src/pipeline/pass-manager.js';
import { parseRecipe, step } from '../../src/pipeline/recipe.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { GraphBuilder, newModel, randn, run, weight } from '../helpers/models.js';

/** x [batch, 64] -> MatMul [64, 64] -> Relu -> MatMul [64, 16] -> y */
function mlp(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: 1, shape: ['batch', 64] });
  const h = b.op('Relu', [b.op('MatMul', [x, weight(b, 'w1', [64, 64], 1, 0.15)])]);
  b.output(b.op('MatMul', [h, weight(b, 'w2', [64, 16], 2, 0.15)]));
  return m;
}

const SAMPLES = 64;
const X = randn(SAMPLES * 64, 3);
const data = (m: Model) =>
  bindArrays(m, new Map([['x', { dtype: 'float32' as const, shape: [SAMPLES, 64], data: X }]]), 'test data');

async function sqnr(reference: Model, candidate: Model): Promise<number> {
  const feeds = [{ x: { dtype: 1, dims: [SAMPLES, 64], data: X } }];
  return compareOutputs([await run(reference, feeds[0]!)], [await run(candidate, feeds[0]!)]).sqnr;
}

describe('PassContext from runPasses', () => {
  it('static int8 collects activation ranges over the calibration data', async () => {
    const m = mlp();
    const { model, history } = await runPasses(
      cloneModel(m),
      [step('quantize-static-int8', { samples: 32 })],
      {
        runtime: nodeRuntime,
        calibration: data(m),
      },
    );
    expect(history[0]!.stats).toMatchObject({ quantized: 2, weights: 2, foldedActivations: 1 });
    expect(model.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').length).toBeGreaterThanOrEqual(2);
    expect(await sqnr(m, model)).toBeGreaterThan(25);
    await expect(
      runPasses(cloneModel(m), [step('quantize-static-int8')], { runtime: nodeRuntime }),
    ).rejects.toThrow(/needs calibration data/);
  });

  it('GPTQ gets ORT matrix products and beats round-to-nearest on the data it saw', async () => {
    const m = mlp();
    const int4 = async (algorithm: string) =>
      (
        await runPasses(cloneModel(m), [step('quantize-weight-int4', { algorithm, accuracyLevel: 0 })], {
          runtime: nodeRuntime,
          calibration: data(m),
        })
      ).model;
    const [rtn, gptq] = [await int4('rtn'), await int4('gptq')];
    expect(gptq.graph.nodes.filter((n) => n.opType === 'MatMulNBits')).toHaveLength(2);
    const [sRtn, sGptq] = [await sqnr(m, rtn), await sqnr(m, gptq)];
    expect(sRtn).toBeGreaterThan(10);
    expect(sGptq).toBeGreaterThan(sRtn + 0.5);
    await expect(
      runPasses(cloneModel(m), [step('quantize-weight-int4', { algorithm: 'gptq' })], {
        runtime: nodeRuntime,
      }),
    ).rejects.toThrow(/gptq needs calibration data/);
  });

  it('recipes use the flag names: method, perTensor, exclude, conv', () => {
    const steps = parseRecipe(
      [
        '- pass: quantize-static-int8',
        '  options: { method: entropy, perTensor: true }',
        '- pass: quantize-fp16',
        '  options: { exclude: ["/head/*"] }',
        '- pass: quantize-weight-int8',
        '  options: { conv: true, perTensor: true }',
      ].join('\n'),
    );
    expect(steps.map((s) => s.options)).toMatchObject([
      { method: 'entropy', perTensor: true },
      { exclude: ['/head/*'] },
      { conv: true, perTensor: true },
    ]);
    expect(() => parseRecipe('- pass: quantize-static-int8\n  options: { calibration: entropy }')).toThrow(
      /line 2.*calibration/s,
    );
  });
});
