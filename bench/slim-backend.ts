// slim on the ONNX backend test corpus: for every model ONNX Runtime loads and runs, outputs after
// `slim` must stay within 1e-5 (relative to the largest output magnitude, and absolutely for tiny ones).
// The numerical guard is OFF here, so a pass that changes outputs is counted as a failure instead of
// being rolled back. Run: npx tsx bench/slim-backend.ts
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { decodeModel, encodeModel } from '../src/ir/serialize.js';
import { tensorFromProto } from '../src/ir/tensor-proto.js';
import { TensorProtoSchema } from '../src/onnx/gen/onnx_pb.js';
import { SLIM_PASSES } from '../src/passes/registry.js';
import { compareOutputs, runPasses } from '../src/pipeline/pass-manager.js';
import { step } from '../src/pipeline/recipe.js';
import { nodeRuntime } from '../src/runtime/node.js';
import type { HostTensor } from '../src/runtime/types.js';
import { listCorpus } from './backend-corpus.js';

const steps = [...SLIM_PASSES.map((id) => step(id)), step('topological-sort')];
let ran = 0;
let within = 0;
let changedModels = 0;
let skipped = 0;
const failures: string[] = [];
const t0 = performance.now();
for (const c of listCorpus()) {
  const bytes = new Uint8Array(readFileSync(join(c.dir, 'model.onnx')));
  const model = decodeModel(bytes);
  const inputs = model.graph.inputs.filter((v) => !v.initializer);
  if (inputs.some((v) => !v.type)) {
    skipped++;
    continue;
  }
  const sets = readdirSync(c.dir).filter((d) => d.startsWith('test_data_set_'));
  const feedsList: Record<string, HostTensor>[] = [];
  for (const s of sets) {
    const feeds: Record<string, HostTensor> = {};
    let ok = true;
    inputs.forEach((v, i) => {
      const p = join(c.dir, s, `input_${i}.pb`);
      if (!existsSync(p)) {
        ok = false;
        return;
      }
      const t = tensorFromProto(fromBinary(TensorProtoSchema, readFileSync(p)), undefined);
      feeds[v.name] = {
        dtype: t.dtype,
        dims: t.dims,
        data: t.isString ? t.strings.map((x) => new TextDecoder().decode(x)) : t.typed(),
      };
    });
    if (ok) feedsList.push(feeds);
  }
  let before: Record<string, HostTensor>[];
  try {
    const s = await nodeRuntime.createSession(bytes);
    before = [];
    for (const f of feedsList) before.push(await s.run(f));
    await s.release();
  } catch {
    skipped++;
    continue;
  }
  ran++;
  try {
    const { model: slim, history } = await runPasses(model, steps, {
      runtime: nodeRuntime,
      fixedPoint: true,
    });
    if (history.some((h) => h.changed)) changedModels++;
    const s = await nodeRuntime.createSession(encodeModel(slim));
    const after: Record<string, HostTensor>[] = [];
    for (const f of feedsList) after.push(await s.run(f));
    await s.release();
    const d = compareOutputs(before, after);
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
