// Fuzzing real models: seeded mutations of model files (bit flips, truncations, splices) and of their
// decoded protobuf (dims, dtypes, attribute values, input names, op types, opsets, tensor data), each
// run in-process through decode -> verify -> inspect -> slim (guard on, ONNX Runtime judging). Every
// case must end in a success or a clean EdgefitError — never another exception — within a time cap.
// test/hostile/fuzz.test.ts runs a fixed number of cases in `npm test`; bench/fuzz.ts runs many more.
// The model list is a parameter: the fixtures, the example and any real models (test/corpus) on disk.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { inspectModel } from '../../src/analysis/inspect.js';
import { slimBytes } from '../../src/commands/api.js';
import { isEdgefitError } from '../../src/errors.js';
import type { Model } from '../../src/ir/graph.js';
import { decodeModel } from '../../src/ir/serialize.js';
import { assertValid } from '../../src/ir/verify.js';
import { Rng } from '../../src/kernels/random.js';
import {
  AttributeProto_AttributeType as AT,
  type GraphProto,
  type ModelProto,
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  type TensorShapeProto,
  type TypeProto,
} from '../../src/onnx/gen/onnx_pb.js';
import { nodeRuntime } from '../../src/runtime/node.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The models fuzzed by default: every fixture model, the example, and cached real models if any. */
export function fuzzModelPaths(): string[] {
  const fixtures = join(ROOT, 'test', 'fixtures', 'models');
  const out = readdirSync(fixtures)
    .filter((f) => f.endsWith('.onnx'))
    .sort()
    .map((f) => join(fixtures, f));
  out.push(join(ROOT, 'examples', 'fashion-mnist.onnx'));
  return out;
}

/** Real models named in test/corpus/real-models.json that are already on disk (cached by its loader). */
export function cachedRealModels(cacheDir = join(ROOT, '.cache', 'real-models')): string[] {
  if (!existsSync(cacheDir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.onnx')) out.push(join(d, e.name));
    }
  };
  walk(cacheDir);
  return out.sort();
}

// --- mutations

type Mutation = { kind: string; bytes: Uint8Array };

const INTERESTING = [0, 1, -1, 2, 3, 7, 255, 65535, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, 2 ** 53 - 1];

function pick<T>(rng: Rng, list: readonly T[]): T | undefined {
  return list.length ? list[rng.int(list.length)] : undefined;
}

function interesting(rng: Rng): bigint {
  return rng.next() < 0.7 ? BigInt(pick(rng, INTERESTING)!) : BigInt(rng.int(4096) - 64);
}

function graphsOf(g: GraphProto): GraphProto[] {
  const out = [g];
  for (const n of g.node)
    for (const a of n.attribute) {
      if (a.g) out.push(...graphsOf(a.g));
      for (const s of a.graphs) out.push(...graphsOf(s));
    }
  return out;
}

function shapeOf(t: TypeProto | undefined): TensorShapeProto | undefined {
  return t?.value.case === 'tensorType' ? t.value.value.shape : undefined;
}

/** One field-level edit of the decoded model; returns its name. */
function mutateField(rng: Rng, m: ModelProto): string {
  const graphs = graphsOf(m.graph!);
  const g = pick(rng, graphs)!;
  const kind = rng.int(11);
  const node = pick(rng, g.node);
  const values = [...g.input, ...g.output, ...g.valueInfo];
  switch (kind) {
    case 0: {
      // a dim of a graph input/output/value_info
      const shape = shapeOf(pick(rng, values)?.type);
      const d = shape && pick(rng, shape.dim);
      if (!d) return 'dim (none)';
      if (rng.next() < 0.2) d.value = { case: 'dimParam', value: pick(rng, ['', 'N', 'batch', '-1'])! };
      else d.value = { case: 'dimValue', value: interesting(rng) };
      return 'value dim';
    }
    case 1: {
      // an initializer's dims
      const t = pick(rng, g.initializer);
      if (!t) return 'initializer dims (none)';
      if (t.dims.length && rng.next() < 0.7) t.dims[rng.int(t.dims.length)] = interesting(rng);
      else if (rng.next() < 0.5) t.dims.push(interesting(rng));
      else t.dims.pop();
      return 'initializer dims';
    }
    case 2: {
      // an initializer's data type
      const t = pick(rng, g.initializer);
      if (!t) return 'dtype (none)';
      t.dataType = rng.int(26);
      return 'initializer dtype';
    }
    case 3: {
      // a value's element type
      const v = pick(rng, values);
      if (v?.type?.value.case !== 'tensorType') return 'elem type (none)';
      v.type.value.value.elemType = rng.int(26);
      return 'value elem type';
    }
    case 4: {
      // an attribute's value
      const a = node && pick(rng, node.attribute);
      if (!a) return 'attribute (none)';
      const r = rng.int(5);
      if (r === 0) a.i = interesting(rng);
      else if (r === 1) a.ints = Array.from({ length: rng.int(6) }, () => interesting(rng));
      else if (r === 2) a.f = pick(rng, [Number.NaN, Infinity, -Infinity, 0, -1, 1e30, 1e-30])!;
      else if (r === 3) a.type = pick(rng, [AT.INT, AT.INTS, AT.FLOAT, AT.STRING, AT.TENSOR, AT.GRAPH])!;
      else node!.attribute.splice(node!.attribute.indexOf(a), 1);
      return 'attribute value';
    }
    case 5: {
      // a node input name: another value, a missing one, or empty
      if (!node || node.input.length === 0) return 'input name (none)';
      const names = [...g.node.flatMap((n) => n.output), ...g.initializer.map((t) => t.name)];
      node.input[rng.int(node.input.length)] = pick(rng, [...names, 'ghost', ''])!;
      return 'node input name';
    }
    case 6: {
      // a graph input/output name
      const list = rng.next() < 0.5 ? g.input : g.output;
      const v = pick(rng, list);
      if (!v) return 'graph io name (none)';
      v.name = pick(rng, ['', 'x', v.name + v.name, ...g.node.flatMap((n) => n.output)])!;
      return 'graph io name';
    }
    case 7: {
      // the op type or domain
      if (!node) return 'op type (none)';
      if (rng.next() < 0.7)
        node.opType = pick(rng, ['Conv', 'MatMul', 'Reshape', 'Loop', 'If', 'Gather', 'Nope', ''])!;
      else node.domain = pick(rng, ['com.microsoft', 'ai.onnx.ml', 'bogus'])!;
      return 'op type';
    }
    case 8: {
      // the opset version
      const o = pick(rng, m.opsetImport);
      if (!o) return 'opset (none)';
      o.version = BigInt(pick(rng, [0, 1, 6, 9, 11, 13, 17, 21, 99, -1])!);
      return 'opset';
    }
    case 9: {
      // tensor data: truncated raw bytes, or an external location
      const t = pick(rng, g.initializer);
      if (!t) return 'tensor data (none)';
      if (rng.next() < 0.6) t.rawData = t.rawData.subarray(0, rng.int(t.rawData.length + 1));
      else {
        t.dataLocation = 1;
        t.externalData = [
          create(StringStringEntryProtoSchema, {
            key: 'location',
            value: pick(rng, ['w.bin', '../w.bin', '/etc/passwd', ''])!,
          }),
          create(StringStringEntryProtoSchema, { key: 'length', value: String(interesting(rng)) }),
        ];
      }
      return 'tensor data';
    }
    default: {
      // structure: drop all outputs, reverse the nodes, or duplicate a node
      const r = rng.int(3);
      if (r === 0) g.output.splice(0, g.output.length);
      else if (r === 1) g.node.reverse();
      else if (node) g.node.push(node);
      return 'graph structure';
    }
  }
}

/** Bit flips (biased to the first 4 KB, where the graph structure lives), a truncation or a splice. */
export function mutateBytes(rng: Rng, src: Uint8Array): Mutation {
  const kind = rng.int(3);
  if (kind === 0) {
    const out = src.slice();
    for (let k = 1 + rng.int(8); k > 0; k--) {
      const at = rng.next() < 0.7 ? rng.int(Math.min(4096, out.length)) : rng.int(out.length);
      out[at]! ^= 1 << rng.int(8);
    }
    return { kind: 'bit flips', bytes: out };
  }
  if (kind === 1) return { kind: 'truncation', bytes: src.slice(0, rng.int(src.length)) };
  const out = src.slice();
  const len = 1 + rng.int(64);
  const from = rng.int(Math.max(1, out.length - len));
  const to = rng.int(Math.max(1, out.length - len));
  out.copyWithin(to, from, from + len);
  return { kind: 'splice', bytes: out };
}

/** A mutation of `src`: raw bytes (40%) or one to three edits of its decoded protobuf (60%). */
export function mutate(rng: Rng, src: Uint8Array, proto: () => ModelProto): Mutation {
  if (rng.next() < 0.4) return mutateBytes(rng, src);
  const m = proto();
  const kinds: string[] = [];
  for (let k = 1 + rng.int(3); k > 0; k--) kinds.push(mutateField(rng, m));
  return { kind: kinds.join(' + '), bytes: toBinary(ModelProtoSchema, m) };
}

// --- running

export interface FuzzCase {
  index: number;
  model: string;
  mutation: string;
  outcome: 'ok' | 'handled' | 'crashed' | 'slow';
  stage: string;
  ms: number;
  error?: string;
}

export interface FuzzSummary {
  run: number;
  ok: number;
  handled: number;
  crashed: FuzzCase[];
  slow: FuzzCase[];
  /** cases that reached slim */
  slimmed: number;
  slowestMs: number;
}

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** a case taking longer than this counts as a hang */
  caseTimeoutMs?: number;
  /** run slim (guard on) on cases that pass verification, at most this many (default: all) */
  slimCases?: number;
  onCase?: (c: FuzzCase) => void;
}

async function runOne(bytes: Uint8Array): Promise<{ stage: string; error?: unknown }> {
  let stage = 'decode';
  try {
    const model: Model = decodeModel(bytes);
    stage = 'verify';
    assertValid(model);
    stage = 'inspect';
    inspectModel(model);
    return { stage: 'verified' };
  } catch (e) {
    return { stage, error: e };
  }
}

async function runSlim(bytes: Uint8Array): Promise<unknown> {
  try {
    await slimBytes(bytes, { seed: 1 }, { runtime: nodeRuntime, log: { info() {}, warn() {} } });
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Fuzz `models` (paths) with seeded mutations; returns the counts and every crash. */
export async function fuzzModels(models: readonly string[], options: FuzzOptions): Promise<FuzzSummary> {
  const rng = new Rng(options.seed);
  const cap = options.caseTimeoutMs ?? 10_000;
  const sources = models.map((p) => ({ path: p, bytes: new Uint8Array(readFileSync(p)) }));
  const summary: FuzzSummary = { run: 0, ok: 0, handled: 0, crashed: [], slow: [], slimmed: 0, slowestMs: 0 };
  for (let i = 0; i < options.cases; i++) {
    const src = sources[i % sources.length]!;
    const mutation = mutate(rng, src.bytes, () => fromBinary(ModelProtoSchema, src.bytes));
    const t0 = performance.now();
    let { stage, error } = await runOne(mutation.bytes);
    if (error === undefined && summary.slimmed < (options.slimCases ?? Infinity)) {
      summary.slimmed++;
      stage = 'slim';
      error = await runSlim(mutation.bytes);
    }
    const ms = performance.now() - t0;
    const c: FuzzCase = {
      index: i,
      model: src.path,
      mutation: mutation.kind,
      outcome: error === undefined ? 'ok' : isEdgefitError(error) ? 'handled' : 'crashed',
      stage,
      ms,
    };
    if (error !== undefined)
      c.error =
        error instanceof Error ? (c.outcome === 'crashed' ? error.stack : error.message) : String(error);
    if (c.outcome !== 'crashed' && ms > cap) c.outcome = 'slow';
    summary.run++;
    summary.slowestMs = Math.max(summary.slowestMs, ms);
    if (c.outcome === 'ok') summary.ok++;
    else if (c.outcome === 'handled') summary.handled++;
    else if (c.outcome === 'crashed') summary.crashed.push(c);
    else summary.slow.push(c);
    options.onCase?.(c);
  }
  return summary;
}
