// ONNX backend test corpus (Debian libonnx-testdata): listing the cases, reading a case's model and
// test inputs, and the round-trip check — every model decodes, verifies and re-encodes to an
// equivalent proto; every model ONNX Runtime loads gives bit-identical outputs before and after.
// Shared by bench/roundtrip-backend.ts, bench/slim-backend.ts (print the counts),
// test/onnx/backend-corpus.test.ts and test/corpus/quantize-corpus.ts.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { equals, fromBinary } from '@bufbuild/protobuf';
import type { Model } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/host-tensor.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { viewBytes } from '../../src/ir/tensor.js';
import { tensorFromProto } from '../../src/ir/tensor-proto.js';
import { verifyModel } from '../../src/ir/verify.js';
import {
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  type TensorProto,
  TensorProtoSchema,
} from '../../src/onnx/gen/onnx_pb.js';
import type { Runtime, Session } from '../../src/runtime/types.js';

export const CORPUS_ROOT = '/usr/share/libonnx-testdata/data';

export interface CorpusCase {
  suite: string;
  name: string;
  dir: string;
}

export function listCorpus(root = CORPUS_ROOT): CorpusCase[] {
  const out: CorpusCase[] = [];
  if (!existsSync(root)) return out;
  for (const suite of readdirSync(root).sort())
    for (const name of readdirSync(join(root, suite)).sort()) {
      const dir = join(root, suite, name);
      if (existsSync(join(dir, 'model.onnx'))) out.push({ suite, name, dir });
    }
  return out;
}

// --- canonical form: tensors as raw bytes, 'ai.onnx' spelled '', so that two protos compare equal
// exactly when they mean the same model

function canonTensor(t: TensorProto): void {
  if (t.dataLocation === 1 || t.dataType === 8) return;
  const raw = tensorFromProto(t, undefined).bytes();
  t.rawData = raw;
  t.floatData = [];
  t.int32Data = [];
  t.int64Data = [];
  t.doubleData = [];
  t.uint64Data = [];
}

function canonAttr(a: AttributeProto): void {
  if (a.t) canonTensor(a.t);
  a.tensors.forEach(canonTensor);
  if (a.g) canonGraph(a.g);
  a.graphs.forEach(canonGraph);
  if (a.sparseTensor?.values) canonTensor(a.sparseTensor.values);
  if (a.sparseTensor?.indices) canonTensor(a.sparseTensor.indices);
}

function canonNodes(nodes: NodeProto[]): void {
  for (const n of nodes) n.attribute.forEach(canonAttr);
}

function canonGraph(g: GraphProto): void {
  g.initializer.forEach(canonTensor);
  for (const s of g.sparseInitializer) {
    if (s.values) canonTensor(s.values);
    if (s.indices) canonTensor(s.indices);
  }
  canonNodes(g.node);
}

export function canonicalModel(bytes: Uint8Array): ModelProto {
  const m = fromBinary(ModelProtoSchema, bytes);
  for (const o of m.opsetImport) if (o.domain === 'ai.onnx') o.domain = '';
  if (m.graph) canonGraph(m.graph);
  for (const f of m.functions) canonNodes(f.node);
  for (const ti of m.trainingInfo) {
    if (ti.initialization) canonGraph(ti.initialization);
    if (ti.algorithm) canonGraph(ti.algorithm);
  }
  return m;
}

export function protosEquivalent(a: Uint8Array, b: Uint8Array): boolean {
  return equals(ModelProtoSchema, canonicalModel(a), canonicalModel(b));
}

/** The case's model.onnx. */
export function readCaseModel(c: CorpusCase): Uint8Array {
  return new Uint8Array(readFileSync(join(c.dir, 'model.onnx')));
}

/**
 * The feeds of every test_data_set_* of a case, in order; undefined when the model has a non-tensor
 * input (sequence, optional, map) or a set lacks an input file.
 */
export function readTestInputs(c: CorpusCase, model: Model): Record<string, HostTensor>[] | undefined {
  const sets = readdirSync(c.dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort();
  const feedInputs = model.graph.inputs.filter((v) => !v.initializer);
  if (feedInputs.some((v) => !v.type)) return undefined;
  const out: Record<string, HostTensor>[] = [];
  for (const s of sets) {
    const feeds: Record<string, HostTensor> = {};
    for (let i = 0; i < feedInputs.length; i++) {
      const p = join(c.dir, s, `input_${i}.pb`);
      if (!existsSync(p)) return undefined;
      const t = tensorFromProto(fromBinary(TensorProtoSchema, readFileSync(p)), undefined);
      feeds[feedInputs[i]!.name] = {
        dtype: t.dtype,
        dims: t.dims,
        data: t.isString ? t.strings.map((x) => new TextDecoder().decode(x)) : t.typed(),
      };
    }
    out.push(feeds);
  }
  return out;
}

function sameBits(a: HostTensor, b: HostTensor): boolean {
  if (a.dtype !== b.dtype || a.dims.join() !== b.dims.join()) return false;
  if (Array.isArray(a.data) || Array.isArray(b.data))
    return JSON.stringify(a.data) === JSON.stringify(b.data);
  return Buffer.compare(viewBytes(a.data), viewBytes(b.data)) === 0;
}

export type CaseResult =
  | { status: 'identical' } // ORT ran both, outputs bit-identical
  | { status: 'equivalent'; why: string } // ORT could not run it; the protos are equivalent
  | { status: 'failed'; why: string };

export async function checkCase(c: CorpusCase, runtime: Runtime): Promise<CaseResult> {
  const original = readCaseModel(c);
  let model: Model;
  let encoded: Uint8Array;
  try {
    model = decodeModel(original);
    const problems = verifyModel(model);
    if (problems.length) return { status: 'failed', why: `verify: ${problems[0]}` };
    encoded = encodeModel(model);
  } catch (e) {
    return { status: 'failed', why: `round trip: ${(e as Error).message}` };
  }
  if (!protosEquivalent(original, encoded)) return { status: 'failed', why: 're-encoded proto differs' };
  const feedsList = readTestInputs(c, model);
  if (!feedsList) return { status: 'equivalent', why: 'non-tensor inputs' };
  let a: Session;
  try {
    a = await runtime.createSession(original, { threads: 1 });
  } catch {
    return { status: 'equivalent', why: 'ONNX Runtime cannot load the original' };
  }
  try {
    const b = await runtime.createSession(encoded, { threads: 1 });
    for (const feeds of feedsList) {
      let ra: Record<string, HostTensor>;
      try {
        ra = await a.run(feeds);
      } catch {
        return { status: 'equivalent', why: 'ONNX Runtime cannot run the original' };
      }
      const rb = await b.run(feeds);
      for (const k of Object.keys(ra))
        if (!rb[k] || !sameBits(ra[k]!, rb[k]!)) return { status: 'failed', why: `output ${k} differs` };
    }
    await b.release();
    return { status: 'identical' };
  } catch (e) {
    return { status: 'failed', why: `re-encoded model: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await a.release();
  }
}
