// Every command on every real-model corpus entry (test/corpus/real-models.json), in-process through
// edgefit/node's library functions, and what must hold for each case:
//  1. no internal error: a thrown EdgefitError counts only when the entry lists the command under
//     `expect.declines` (with the reason); anything else thrown is a failure
//  2. every written model loads in ONNX Runtime and runs at every input shape of the entry
//  3. slim is lossless (max relative error <= 1e-4 against the original at every shape) and never
//     larger in weight bytes
//  4. a technique (quantize, prune, cluster, decompose) changes the model, or says why not in
//     warnings[]: a warning from the technique's pass with its reason (the engine's generic
//     "changed nothing" does not count)
// Used by test/real-models/ and bench/real-models.ts (which prints the counts issue 9 quotes).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEdgefitError } from '../../src/errors.js';
import type { HostTensor } from '../../src/ir/host-tensor.js';
import * as edgefit from '../../src/node.js';
import { compareOutputs } from '../../src/pipeline/pass-manager.js';
import type { TransformReport } from '../../src/report/schema.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { runEach } from '../../src/runtime/session.js';
import {
  feedsAt,
  inputFlags,
  modelPath,
  type RealModel,
  shapeCount,
  shapeFlags,
  writeCalibration,
} from './real-models.js';

export interface CommandCase {
  /** the name in reports and in `expect.declines` */
  name: string;
  /** the technique pass whose change (or warning) counts; none for slim and the measuring commands */
  pass?: string;
  run(input: string, output: string, ctx: CaseContext): Promise<unknown>;
}

interface CaseContext {
  entry: RealModel;
  shape: string[];
  input: string[];
  calib: () => string;
}

const common = (c: CaseContext) => ({ shape: c.shape, input: c.input, force: true });

export const COMMANDS: CommandCase[] = [
  { name: 'inspect', run: (m, _o, c) => edgefit.inspect(m, { shape: c.shape }) },
  {
    name: 'bench',
    run: (m, _o, c) => edgefit.bench(m, { runs: 3, warmup: 1, shape: c.shape, input: c.input }),
  },
  {
    // the model against itself on synthetic inputs: size, latency and fidelity side by side
    name: 'compare',
    run: (m, _o, c) => edgefit.compare(m, m, { runs: 3, samples: 4, shape: c.shape, input: c.input }),
  },
  { name: 'slim', run: (m, o, c) => edgefit.slim(m, { output: o, ...common(c) }) },
  {
    name: 'quantize-fp16',
    pass: 'quantize-fp16',
    run: (m, o, c) => edgefit.quantize(m, { output: o, mode: 'fp16', ...common(c) }),
  },
  {
    name: 'quantize-weight-int8',
    pass: 'quantize-weight-int8',
    run: (m, o, c) => edgefit.quantize(m, { output: o, mode: 'weight-int8', ...common(c) }),
  },
  {
    name: 'quantize-weight-int4',
    pass: 'quantize-weight-int4',
    run: (m, o, c) => edgefit.quantize(m, { output: o, mode: 'weight-int4', ...common(c) }),
  },
  {
    name: 'quantize-dynamic',
    pass: 'quantize-dynamic-int8',
    run: (m, o, c) => edgefit.quantize(m, { output: o, mode: 'dynamic', ...common(c) }),
  },
  {
    name: 'quantize-static',
    pass: 'quantize-static-int8',
    run: (m, o, c) =>
      edgefit.quantize(m, { output: o, mode: 'static', calib: c.calib(), samples: 8, ...common(c) }),
  },
  {
    name: 'prune',
    pass: 'prune-weights',
    run: (m, o, c) => edgefit.prune(m, { output: o, sparsity: 0.5, ...common(c) }),
  },
  {
    name: 'prune-channel',
    pass: 'prune-channels',
    run: (m, o, c) => edgefit.prune(m, { output: o, sparsity: 0.25, pattern: 'channel', ...common(c) }),
  },
  {
    name: 'cluster',
    pass: 'cluster-weights',
    run: (m, o, c) => edgefit.cluster(m, { output: o, clusters: 16, ...common(c) }),
  },
  {
    name: 'decompose',
    pass: 'decompose-svd',
    run: (m, o, c) => edgefit.decompose(m, { output: o, rankRatio: 0.5, ...common(c) }),
  },
];

export type Outcome = 'ok' | 'changed' | 'warned' | 'declined' | 'failed';

export interface CaseResult {
  model: string;
  command: string;
  outcome: Outcome;
  /** what broke a rule (empty when the case passed) */
  problems: string[];
  error?: string;
  warnings: string[];
  weightBytes?: { before: number; after: number };
  bytes?: { before: number; after: number };
  /** max relative output error of the written model against the original, per shape */
  maxRelError?: number[];
  ms: number;
}

export const passed = (r: CaseResult) => r.problems.length === 0;

const SLIM_TOLERANCE = 1e-4;
/** The engine's fallback when a pass gave no reason of its own: not an answer to "why not". */
const GENERIC = /changed nothing: no node it applies to was found/;

async function outputsAt(path: string, entry: RealModel): Promise<Record<string, HostTensor>[]> {
  const feeds = Array.from({ length: shapeCount(entry) }, (_, k) => feedsAt(entry, k));
  return runEach(nodeRuntime, path, feeds);
}

/** The original's outputs at every shape, once per entry. */
const references = new Map<string, Promise<Record<string, HostTensor>[]>>();
function referenceOutputs(entry: RealModel): Promise<Record<string, HostTensor>[]> {
  let r = references.get(entry.id);
  if (!r) {
    r = outputsAt(modelPath(entry), entry);
    references.set(entry.id, r);
  }
  return r;
}

/** Run one command on one entry and check rules 1-4. */
export async function runCase(entry: RealModel, command: CommandCase, dir: string): Promise<CaseResult> {
  const t0 = performance.now();
  const input = modelPath(entry);
  const output = join(dir, `${entry.id}.${command.name}.onnx`);
  let calibFile: string | undefined;
  const ctx: CaseContext = {
    entry,
    shape: entry.fixShapes ? shapeFlags(entry) : [],
    input: inputFlags(entry),
    calib: () => {
      calibFile ??= writeCalibration(entry, join(dir, `${entry.id}.calib.npz`));
      return calibFile;
    },
  };
  const result: CaseResult = {
    model: entry.id,
    command: command.name,
    outcome: 'ok',
    problems: [],
    warnings: [],
    ms: 0,
  };
  const declines = entry.expect?.declines?.[command.name];
  let report: unknown;
  try {
    report = await command.run(input, output, ctx);
  } catch (e) {
    result.error = (e as Error).message.split('\n')[0];
    if (isEdgefitError(e) && declines) result.outcome = 'declined';
    else {
      result.outcome = 'failed';
      result.problems.push(
        isEdgefitError(e)
          ? `user error not listed in expect.declines: ${result.error}`
          : `internal error: ${result.error}`,
      );
    }
    result.ms = performance.now() - t0;
    return result;
  }
  if (declines) result.problems.push(`expected to decline (${declines}) but ran`);
  const t = report as Partial<TransformReport>;
  if (t.passes && t.before && t.after) {
    result.warnings = t.warnings ?? [];
    result.weightBytes = { before: t.before.weightBytes, after: t.after.weightBytes };
    result.bytes = { before: t.before.bytes, after: t.after.bytes };
    // rule 2: the written model loads and runs at every shape
    let ref: Record<string, HostTensor>[] | undefined;
    let out: Record<string, HostTensor>[] | undefined;
    try {
      ref = await referenceOutputs(entry);
      out = await outputsAt(output, entry);
    } catch (e) {
      result.problems.push(`the written model does not run in ORT: ${(e as Error).message.split('\n')[0]}`);
    }
    if (ref && out) {
      result.maxRelError = ref.map((r, k) => compareOutputs([r], [out[k]!]).maxRelError);
      if (command.name === 'slim') {
        result.maxRelError.forEach((err, k) => {
          if (!(err <= SLIM_TOLERANCE))
            result.problems.push(
              `slim is not lossless at shape ${k}: max relative error ${err.toExponential(2)}`,
            );
        });
      }
    }
    if (command.name === 'slim' && t.after.weightBytes > t.before.weightBytes)
      result.problems.push(`slim grew the weights: ${t.before.weightBytes} -> ${t.after.weightBytes} bytes`);
    if (command.pass) {
      const rec = t.passes.find((p) => p.name === command.pass);
      if (rec?.changed) result.outcome = 'changed';
      else if (result.warnings.some((w) => w.startsWith(command.pass!) && !GENERIC.test(w)))
        result.outcome = 'warned';
      else {
        result.outcome = 'failed';
        result.problems.push(`${command.pass} changed nothing and no warning says why`);
      }
    } else result.outcome = 'changed';
  }
  if (result.problems.length) result.outcome = 'failed';
  result.ms = performance.now() - t0;
  return result;
}

/** Every command on `entries` (a fresh scratch folder, removed afterwards). */
export async function runMatrix(
  entries: RealModel[],
  commands: CommandCase[] = COMMANDS,
  onCase?: (r: CaseResult) => void,
): Promise<CaseResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-real-'));
  const results: CaseResult[] = [];
  try {
    for (const entry of entries)
      for (const command of commands) {
        const r = await runCase(entry, command, dir);
        results.push(r);
        onCase?.(r);
      }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
