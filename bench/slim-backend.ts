// slim on the ONNX backend test corpus: for every model ONNX Runtime loads and runs, outputs after
// `slim` must stay within 1e-5 (relative to the largest output magnitude, and absolutely for tiny ones).
// The numerical guard is OFF here, so a pass that changes outputs is counted as a failure instead of
// being rolled back. Run: npx tsx bench/slim-backend.ts

import type { HostTensor } from '../src/ir/host-tensor.js';
import { decodeModel, encodeModel } from '../src/ir/serialize.js';
import { compareOutputs, runPasses } from '../src/pipeline/pass-manager.js';
import { nodeRuntime } from '../src/runtime/node.js';
import { runEach } from '../src/runtime/session.js';
import { listCorpus, readCaseModel, readTestInputs } from '../test/corpus/backend.js';
import { slimSteps } from '../test/corpus/slim-check.js';

let ran = 0;
let within = 0;
let changedModels = 0;
let skipped = 0;
const failures: string[] = [];
const t0 = performance.now();
for (const c of listCorpus()) {
  const bytes = readCaseModel(c);
  const model = decodeModel(bytes);
  const feedsList = readTestInputs(c, model);
  if (!feedsList) {
    skipped++;
    continue;
  }
  let before: Record<string, HostTensor>[];
  try {
    before = await runEach(nodeRuntime, bytes, feedsList);
  } catch {
    skipped++;
    continue;
  }
  ran++;
  try {
    const { model: slim, history } = await runPasses(model, slimSteps(), {
      runtime: nodeRuntime,
      fixedPoint: true,
    });
    if (history.some((h) => h.changed)) changedModels++;
    const d = compareOutputs(before, await runEach(nodeRuntime, encodeModel(slim), feedsList));
    if (d.maxRelError <= 1e-5) within++;
    else
      failures.push(
        `${c.suite}/${c.name}: max relative error ${d.maxRelError.toExponential(2)} (${history
          .filter((h) => h.changed)
          .map((h) => h.name)
          .join(',')})`,
      );
  } catch (e) {
    failures.push(`${c.suite}/${c.name}: ${(e as Error).message.split('\n')[0]}`);
  }
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`models ONNX Runtime loads and runs: ${ran} (skipped ${skipped})`);
console.log(`changed by slim: ${changedModels}`);
console.log(`outputs within 1e-5 after slim: ${within} / ${ran}`);
console.log(`failed: ${failures.length}`);
console.log(`time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
