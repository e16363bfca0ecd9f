// Shared by bench/slim-fixtures.ts and test/passes/slim-fixtures.test.ts: slim a fixture and compare
// ONNX Runtime outputs before and after on seeded synthetic inputs.
import { readFileSync } from 'node:fs';
import { synthesizeInputs } from '../../src/data/synthetic.js';
import type { Model } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/host-tensor.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { modelCounts } from '../../src/ir/stats.js';
import { SLIM_PASSES } from '../../src/passes/registry.js';
import { compareOutputs, type OutputDiff, runPasses } from '../../src/pipeline/pass-manager.js';
import { step } from '../../src/pipeline/recipe.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { runEach } from '../../src/runtime/session.js';

export const FIXTURES = 'test/fixtures/models';

export const slimSteps = () => [...SLIM_PASSES.map((id) => step(id)), step('topological-sort')];

/** `model` slimmed to a fixed point, with no numerical guard (a pass that changes outputs shows in the comparison). */
export async function slimModel(model: Model): Promise<Model> {
  return (await runPasses(model, slimSteps(), { runtime: nodeRuntime, fixedPoint: true })).model;
}

export interface SlimCheck {
  bytes: Uint8Array;
  slimBytes: Uint8Array;
  slim: Model;
  feeds: Record<string, HostTensor>[];
  before: Record<string, number>;
  after: Record<string, number>;
  diff: OutputDiff;
}

/** Slim test/fixtures/models/NAME.onnx and compare outputs on four seeded inputs (batch `batch`). */
export async function slimFixture(name: string, batch = 3): Promise<SlimCheck> {
  const bytes = new Uint8Array(readFileSync(`${FIXTURES}/${name}.onnx`));
  const model = decodeModel(bytes);
  const feeds = [0, 1, 2, 3].map((seed) => {
    const f = synthesizeInputs(model, { seed, batch });
    if (f.cond) f.cond = { dtype: 9, dims: [], data: Uint8Array.of(seed % 2) };
    return f;
  });
  const slim = await slimModel(decodeModel(bytes));
  const slimBytes = encodeModel(slim);
  const diff = compareOutputs(
    await runEach(nodeRuntime, bytes, feeds),
    await runEach(nodeRuntime, slimBytes, feeds),
  );
  return {
    bytes,
    slimBytes,
    slim,
    feeds,
    before: modelCounts(model).opTypes,
    after: modelCounts(slim).opTypes,
    diff,
  };
}
