// Prints the counts for the ONNX backend test corpus round trip (issue: foundation acceptance).
// Run: npx tsx bench/roundtrip-backend.ts
import { nodeRuntime } from '../src/runtime/node.js';
import { checkCase, listCorpus } from '../test/corpus/backend.js';

const cases = listCorpus();
const counts = { identical: 0, equivalent: 0, failed: 0 };
const reasons = new Map<string, number>();
const t0 = performance.now();
for (const c of cases) {
  const r = await checkCase(c, nodeRuntime);
  counts[r.status]++;
  if (r.status !== 'identical') reasons.set(r.why, (reasons.get(r.why) ?? 0) + 1);
  if (r.status === 'failed') console.log(`FAILED ${c.suite}/${c.name}: ${r.why}`);
}
console.log(`models: ${cases.length}`);
console.log(`decoded, verified, re-encoded to an equivalent proto: ${counts.identical + counts.equivalent}`);
console.log(`run by onnxruntime-node with bit-identical outputs before/after: ${counts.identical}`);
console.log(`not runnable by onnxruntime-node (proto equivalence only): ${counts.equivalent}`);
for (const [why, n] of reasons) console.log(`  ${n} x ${why}`);
console.log(`failed: ${counts.failed}`);
console.log(`time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
