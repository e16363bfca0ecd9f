// Robustness: every quantization mode on every ONNX backend test model ONNX Runtime runs. A mode may
// decline a model (a clean EdgefitError) but must never crash, and what it writes must load and run in
// ONNX Runtime on the model's own test inputs. Used by test/passes/quantize-corpus.test.ts; the
// details print with: npx tsx bench/quantize-corpus.ts
import { bindArrays } from '../../src/data/dataset.js';
import type { NdArray } from '../../src/data/npy.js';
import { isEdgefitError } from '../../src/errors.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { verifyModel } from '../../src/ir/verify.js';
import { runPasses } from '../../src/pipeline/pass-manager.js';
import { step } from '../../src/pipeline/recipe.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { runEach } from '../../src/runtime/session.js';
import { listCorpus, readCaseModel, readTestInputs } from './backend.js';

const MODES: [string, Record<string, unknown>][] = [
  ['quantize-fp16', {}],
  ['quantize-weight-int8', { minElements: 4 }],
  ['quantize-weight-int4', { minElements: 4, blockSize: 16 }],
  ['quantize-dynamic-int8', { minElements: 4 }],
  ['quantize-static-int8', { samples: 4 }],
];
const ND: Record<number, NdArray['dtype']> = {
  1: 'float32',
  7: 'int64',
  6: 'int32',
  9: 'bool',
  2: 'uint8',
  3: 'int8',
  11: 'float64',
  10: 'float16',
};

export interface ModeCounts {
  changed: number;
  declined: number;
  crashed: number;
  badOutput: number;
}

/** Run every mode on every corpus model ORT runs; returns per-mode counts and failure lines. */
export async function quantizeCorpus(): Promise<{
  models: number;
  counts: Map<string, ModeCounts>;
  failures: string[];
  reasons: Map<string, number>;
}> {
  const counts = new Map<string, ModeCounts>();
  const failures: string[] = [];
  const reasons = new Map<string, number>();
  let models = 0;
  for (const c of listCorpus()) {
    const bytes = readCaseModel(c);
    const base = decodeModel(bytes);
    // the first test set, when every input is a numeric tensor
    const feeds = readTestInputs(c, base)?.[0];
    if (!feeds || Object.values(feeds).some((t) => Array.isArray(t.data))) continue;
    try {
      await runEach(nodeRuntime, bytes, [feeds]);
    } catch {
      continue;
    }
    models++;
    // calibration data: the test inputs themselves, their first axis taken as the sample axis
    let calibration: ReturnType<typeof bindArrays> | undefined;
    try {
      const arrays = new Map<string, NdArray>();
      for (const [k, t] of Object.entries(feeds)) {
        if (!ND[t.dtype]) throw new Error('dtype');
        if (t.dims.length === 0) throw new Error('scalar input');
        arrays.set(k, { dtype: ND[t.dtype]!, shape: t.dims, data: t.data } as NdArray);
      }
      calibration = bindArrays(base, arrays, 'test inputs');
    } catch {
      calibration = undefined;
    }
    for (const [id, options] of MODES) {
      const k = counts.get(id) ?? { changed: 0, declined: 0, crashed: 0, badOutput: 0 };
      counts.set(id, k);
      try {
        const { model, history } = await runPasses(
          decodeModel(bytes),
          [step(id, options), step('dead-code')],
          {
            runtime: nodeRuntime,
            calibration,
          },
        );
        if (!history[0]!.changed) continue;
        const problems = verifyModel(model);
        if (problems.length) throw new Error(`invalid graph: ${problems[0]}`);
        k.changed++;
        try {
          await runEach(nodeRuntime, encodeModel(model), [feeds]);
        } catch (e) {
          k.badOutput++;
          failures.push(
            `${id} ${c.suite}/${c.name}: output does not run: ${(e as Error).message.split('\n')[0]}`,
          );
        }
      } catch (e) {
        if (isEdgefitError(e)) {
          k.declined++;
          const why = `${id}: ${e.message.replace(/"[^"]*"|\d+/g, '…').slice(0, 90)}`;
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
        } else {
          k.crashed++;
          failures.push(`${id} ${c.suite}/${c.name}: CRASH ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
  }
  return { models, counts, failures, reasons };
}
