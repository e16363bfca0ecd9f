// Longer fuzzing of real models (test/corpus/fuzz.ts): seeded mutations of every fixture model, the
// example and the cached real models (or the .onnx paths given), each through decode -> verify ->
// inspect -> slim (guard on). Prints cases run / handled / crashed and every crash.
//   npx tsx bench/fuzz.ts [--cases N] [--seed S] [--slim N] [model.onnx ...]
import { cachedRealModels, fuzzModelPaths, fuzzModels } from '../test/corpus/fuzz.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const cases = flag('--cases', 3000);
const seed = flag('--seed', 20261201);
const slimCases = flag('--slim', Infinity);
const models = args.length ? args : [...fuzzModelPaths(), ...cachedRealModels()];

const t0 = performance.now();
const byStage = new Map<string, number>();
const summary = await fuzzModels(models, {
  cases,
  seed,
  slimCases,
  caseTimeoutMs: 30_000,
  onCase(c) {
    const key = `${c.outcome} at ${c.stage}`;
    byStage.set(key, (byStage.get(key) ?? 0) + 1);
    if (c.outcome === 'crashed' || c.outcome === 'slow')
      console.log(
        `case ${c.index} ${c.outcome} (${c.model}, ${c.mutation}, ${c.ms.toFixed(0)} ms):\n${c.error}`,
      );
    if ((c.index + 1) % 500 === 0) console.error(`${c.index + 1} cases...`);
  },
});
console.log(`models: ${models.length}; seed ${seed}`);
console.log(
  `cases run: ${summary.run}  handled (clean error): ${summary.handled}  ok: ${summary.ok}  crashed: ${summary.crashed.length}  slow (> 30 s): ${summary.slow.length}`,
);
console.log(
  `reached slim: ${summary.slimmed}; slowest case ${summary.slowestMs.toFixed(0)} ms; ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
for (const [k, v] of [...byStage].sort()) console.log(`  ${k}: ${v}`);
process.exitCode = summary.crashed.length || summary.slow.length ? 1 : 0;
