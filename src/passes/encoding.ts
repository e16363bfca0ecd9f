// Weight encodings across passes: a weight is dense, a codebook + indices (cluster-weights), quantized
// (DequantizeLinear of an integer constant, or com.microsoft MatMulNBits), masked-sparse (exact zeros
// — kernels/gptq keeps them) or low-rank factors (two plain weights). A later pass keeps the structure
// an earlier one made:
//  1. expose: before a lossy pass, every codebook or sparse (values + positions, sparse/) expansion
//     read by a node the step selects becomes a plain initializer (the effective weight), so the pass
//     needs no knowledge of encodings
//  2. re-encode: after it, every new integer/float initializer shaped like an exposed weight (or the
//     exposed weight itself, if the pass left it) whose elements are constant on the codebook's classes
//     — per tensor, per group, or per channel of one axis (a per-channel quantizer) — is written back
//     as a codebook of its own dtype: cluster → static int8 gives DQ(Gather(int8 codebook, indices)),
//     which ORT folds at load and then fuses into QLinearConv/QGemm; cluster → fp16 an fp16 codebook.
//     Otherwise, when it has at most 256 distinct values (prune after cluster adds a 0), a codebook of
//     those values; otherwise it stays dense, with a warning naming the pass and the order that works.
//     A sparse weight is stored sparse again when that still saves bytes (prune → int8 keeps its zeros)
//  3. weight-only int8/int4 leave clustered weights as they are, and say so: the indices already take
//     <= 8 bits per weight, and an int8 codebook would need a DequantizeLinear that ORT runs on every
//     inference (it folds Gather and Cast of constants at load, never DequantizeLinear: measured 2.4x
//     slower on LeNet-300-100 at batch 1); static and dynamic int8 re-encode them (rule 2)
//  4. passes that cannot keep an encoding (decompose-svd of a codebook; anything lossy but a quantizer
//     on an already quantized weight) leave those weights alone and say so (encodingWarnings)
//  5. encodingNodes: the nodes of every expansion, which constant folding must never evaluate

import { setAttr } from '../ir/builder.js';
import { type Graph, type Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { DataType, dataTypeBits } from '../onnx/dtype.js';
import {
  type Codebook,
  expandCodebook,
  indexBitsFor,
  indexBitsSupported,
  readCodebook,
  writeCodebook,
} from './cluster/codebook.js';
import type { Logger } from './pass.js';
import { readSparse, worthSparse, writeSparse } from './sparse/sparse-storage.js';
import { constantOf, newFloatWeight } from './util.js';

/**
 * The weight slots of a node: input 1 of Conv/ConvTranspose/MatMul/Gemm, also input 0 of MatMul, and
 * input 0 of DequantizeLinear (an int8 codebook of a quantized weight).
 */
function weightSlots(n: Node): number[] {
  if (n.domain !== '') return [];
  if (n.opType === 'MatMul' || n.opType === 'MatMulInteger') return [0, 1];
  if (n.opType === 'DequantizeLinear') return [0];
  if (n.opType === 'Conv' || n.opType === 'ConvTranspose' || n.opType === 'Gemm') return [1];
  return [];
}

export interface CodebookUse {
  graph: Graph;
  /** the value the consumers read (the expansion's output) */
  value: Value;
  cb: Codebook;
}

/** Codebook expansions read as a weight by some node `selects` accepts, in every graph. */
export function codebookWeights(model: Model, selects: (n: Node) => boolean = () => true): CodebookUse[] {
  const out: CodebookUse[] = [];
  const seen = new Set<Value>();
  for (const n of model.graph.allNodes())
    for (const i of weightSlots(n)) {
      const v = n.inputs[i];
      if (!v || seen.has(v) || !selects(n)) continue;
      const cb = readCodebook(v);
      if (!cb) continue;
      seen.add(v);
      out.push({ graph: n.graph, value: v, cb });
    }
  return out;
}

/** Nodes of every codebook or sparse expansion (rule 5). */
export function encodingNodes(model: Model): Set<Node> {
  const nodes = new Set<Node>();
  for (const g of model.graph.allGraphs())
    for (const n of g.nodes) {
      if (n.domain !== '') continue;
      const found =
        n.opType === 'Gather'
          ? readCodebook(n.outputs[0]!)?.nodes
          : n.opType === 'Reshape'
            ? readSparse(n.outputs[0]!)?.nodes
            : undefined;
      for (const m of found ?? []) nodes.add(m);
    }
  return nodes;
}

/** Sparse expansions read as a weight by a node `selects` accepts (sparse/sparse-storage.ts). */
function sparseWeights(model: Model, selects: (n: Node) => boolean) {
  const out: { graph: Graph; value: Value; tensor: Tensor; nodes: Node[] }[] = [];
  const seen = new Set<Value>();
  for (const n of model.graph.allNodes())
    for (const [i, v] of n.inputs.entries()) {
      if (!v || seen.has(v) || !selects(n) || v.producer?.opType !== 'Reshape') continue;
      const s = readSparse(v);
      if (!s || !weightSlots(n).includes(i)) continue;
      seen.add(v);
      out.push({ graph: n.graph, value: v, ...s });
    }
  return out;
}

function dims2key(d: readonly number[]): string {
  return d.join('x');
}

export interface Exposed {
  graph: Graph;
  /** the plain initializer standing for the encoded weight while the pass runs */
  dense: Value;
  /** a codebook, or undefined for a sparse weight */
  cb?: Codebook;
  /** the dims of the weight */
  dims: number[];
  /** the values of the model's initializers before the pass (new ones are the pass's) */
  before: Set<Value>;
}

const exposedTensors = new WeakSet<Tensor>();

/**
 * Whether a weight tensor stands for an exposed codebook (rule 1): quantizers give it one scale per
 * tensor, so its K values stay K integers and the codebook stays [K] (per-channel scales would make
 * it [channels, K]; a per-tensor int8 grid over K centroids costs nothing next to the clustering).
 */
export function isExposedCodebook(t: Tensor | undefined): boolean {
  return !!t && exposedTensors.has(t);
}

/** Rule 1: replace each selected expansion by a dense float initializer; remove the expansion. */
export function exposeEncodings(model: Model, selects: (n: Node) => boolean): Exposed[] {
  const uses = codebookWeights(model, selects).filter((u) => u.cb.codebook.dtype === DataType.FLOAT);
  const sparse = sparseWeights(model, selects);
  if (!uses.length && !sparse.length) return [];
  const before = new Set<Value>();
  for (const g of model.graph.allGraphs()) for (const v of g.initializers) before.add(v);
  const out: Exposed[] = [];
  for (const u of sparse) {
    const base = u.value.name.replace(/_reshape(_\d+)?$/, '');
    const name = u.graph.model.uniqueName(base);
    const dense = new Value(u.graph, name, { elemType: u.tensor.dtype, shape: [...u.tensor.dims] });
    u.graph.addInitializer(dense, u.tensor.clone(name));
    u.value.replaceAllUsesWith(dense);
    dropNodes(u.graph, u.nodes);
    out.push({ graph: u.graph, dense, dims: [...u.tensor.dims], before });
  }
  for (const u of uses) {
    // the expansion's output is named after the weight plus the op that made it (…_gather_1)
    const base = u.value.name.replace(/_(clustered|gather|dequantized)(_\d+)?$/, '');
    const dense = newFloatWeight(u.graph, base, u.cb.dims, expandCodebook(u.cb));
    if (!u.cb.groups || u.cb.groups <= 1) exposedTensors.add(dense.initializer!);
    u.value.replaceAllUsesWith(dense);
    dropNodes(u.graph, u.cb.nodes ?? []);
    out.push({ graph: u.graph, dense, cb: u.cb, dims: u.cb.dims, before });
  }
  return out;
}

/** Remove an expansion's nodes and the initializers only they read. */
export function dropNodes(graph: Graph, nodes: Node[]): void {
  for (const n of [...nodes].reverse()) {
    if (n.outputs.some((o) => o.uses.length || o.isGraphOutput)) continue;
    const inputs = [...n.inputs];
    graph.removeNode(n, true);
    for (const v of inputs)
      if (v?.initializer && !v.uses.length && !v.isGraphInput && !v.isGraphOutput) graph.removeInitializer(v);
  }
}

/** The elements as unsigned integer keys of the element's width (equal keys = equal stored values). */
function elementKeys(t: Tensor): Uint8Array | Uint16Array | Uint32Array | undefined {
  const bits = dataTypeBits(t.dtype);
  const b = t.bytes().slice();
  if (bits === 8) return b;
  if (bits === 16) return new Uint16Array(b.buffer, 0, t.size);
  if (bits === 32) return new Uint32Array(b.buffer, 0, t.size);
  return undefined;
}

/** Channel of each element along `axis` of `dims`. */
function channelOf(dims: readonly number[], axis: number): (i: number) => number {
  let stride = 1;
  for (let a = axis + 1; a < dims.length; a++) stride *= dims[a]!;
  const c = dims[axis]!;
  return (i) => Math.floor(i / stride) % c;
}

/**
 * Rule 2, first form: t's elements are constant on the classes (group of axis, index); the codebook
 * of t's dtype, or undefined. `axis` undefined: one class per index.
 */
function classCodebook(
  t: Tensor,
  keys: Uint8Array | Uint16Array | Uint32Array,
  indices: Uint8Array,
  k: number,
  axis: number | undefined,
  groupSize: number,
): Codebook | undefined {
  const dims = [...t.dims];
  const channels = axis === undefined ? 1 : dims[axis]!;
  const groups = Math.ceil(channels / groupSize);
  const chan = axis === undefined ? () => 0 : channelOf(dims, axis);
  const table = new (keys.constructor as Uint32ArrayConstructor)(groups * k);
  const set = new Uint8Array(groups * k);
  for (let i = 0; i < keys.length; i++) {
    const slot = Math.floor(chan(i) / groupSize) * k + indices[i]!;
    if (!set[slot]) {
      set[slot] = 1;
      table[slot] = keys[i]!;
    } else if (table[slot] !== keys[i]) return undefined;
  }
  const bytes = new Uint8Array(table.buffer, table.byteOffset, table.byteLength);
  const grouped = axis !== undefined && groups > 1;
  const codebook = Tensor.fromBytes('', t.dtype, grouped ? [groups, k] : [k], bytes.slice());
  return {
    codebook,
    indices,
    dims,
    bits: 0,
    ...(grouped ? { groupAxis: axis, groups, groupSize } : {}),
  };
}

/** Rule 2, second form: a codebook of t's distinct values (at most 256), or undefined. */
function distinctCodebook(t: Tensor, keys: Uint8Array | Uint16Array | Uint32Array): Codebook | undefined {
  const slot = new Map<number, number>();
  const indices = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    let s = slot.get(keys[i]!);
    if (s === undefined) {
      if (slot.size === 256) return undefined;
      s = slot.size;
      slot.set(keys[i]!, s);
    }
    indices[i] = s;
  }
  const table = new (keys.constructor as Uint32ArrayConstructor)(slot.size);
  for (const [key, s] of slot) table[s] = key;
  const bytes = new Uint8Array(table.buffer, table.byteOffset, table.byteLength).slice();
  return { codebook: Tensor.fromBytes('', t.dtype, [slot.size], bytes), indices, dims: [...t.dims], bits: 0 };
}

/** `cb` for the transpose of its 2-D weight (a quantizer that stores Gemm's B as [K, N]). */
function transposed(cb: Codebook): Codebook {
  const [r, c] = cb.dims as [number, number];
  const indices = new Uint8Array(cb.indices.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) indices[j * r + i] = cb.indices[i * c + j]!;
  const out: Codebook = { ...cb, dims: [c, r], indices };
  if (cb.groupAxis !== undefined) out.groupAxis = 1 - cb.groupAxis;
  return out;
}

/** The re-encoding of tensor t as a codebook consistent with `like` (rule 2), or undefined. */
function reencode(
  t: Tensor,
  original: Codebook,
  axes: number[],
): (Codebook & { transpose?: boolean }) | undefined {
  const keys = elementKeys(t);
  if (!keys || t.size !== original.indices.length) return undefined;
  const flip =
    t.dims.length === 2 && original.dims.length === 2 && dims2key(t.dims) !== dims2key(original.dims);
  const like = flip ? transposed(original) : original;
  if (dims2key(t.dims) !== dims2key(like.dims)) return undefined;
  const cb = reencodeLike(t, keys, like, axes);
  // a transposed copy keeps the original index order (it compresses as well as before) and gets a
  // Transpose after the Gather, which ORT folds at load like the rest
  return cb && flip ? { ...transposed(cb), transpose: true } : cb;
}

function reencodeLike(
  t: Tensor,
  keys: Uint8Array | Uint16Array | Uint32Array,
  like: Codebook,
  axes: number[],
): Codebook | undefined {
  const k = like.codebook.dims.at(-1)!;
  const tries: [number | undefined, number][] = [[undefined, 1]];
  if (like.groupAxis !== undefined)
    tries.push([like.groupAxis, like.groupSize ?? Math.ceil(like.dims[like.groupAxis]! / like.groups!)]);
  for (const a of axes) tries.push([a, 1]);
  const found: Codebook[] = [];
  for (const [axis, size] of tries) {
    const cb = classCodebook(t, keys, like.indices, k, axis, size);
    if (cb) found.push({ ...cb, bits: like.bits });
    if (cb && axis === undefined) break; // one codebook for the tensor: nothing is smaller
  }
  const distinct = distinctCodebook(t, keys);
  if (distinct) found.push({ ...distinct, bits: indexBitsFor(distinct.codebook.dims[0]!) });
  // the cheapest: indices, codebook entries and (grouped) the int64 offsets
  const bytes = (cb: Codebook) =>
    (cb.indices.length * cb.bits) / 8 +
    cb.codebook.byteLength +
    (cb.groupAxis === undefined ? 0 : 8 * cb.dims[cb.groupAxis]!);
  return found.sort((a, b) => bytes(a) - bytes(b))[0];
}

/** Index bits for a codebook of k entries that the model's opset can expand. */
function bitsFor(k: number, opset: number, prefer: number): number {
  const bits = Math.max(indexBitsFor(k), prefer > 0 && k <= 2 ** prefer ? prefer : 0);
  return indexBitsSupported(bits, opset) ? bits : 8;
}

/**
 * Rule 2: after the pass, write every exposed weight (or what the pass made of it) back as a codebook,
 * or sparse (values + positions) when it was sparse and still saves bytes.
 * Returns the number re-encoded; warns for each one that had to stay dense.
 */
export function reencodeWeights(model: Model, exposed: Exposed[], pass: string, log: Logger): number {
  if (!exposed.length) return 0;
  const opset = model.opset('') ?? 0;
  const byDims = new Map<string, Value[]>();
  const before = exposed[0]!.before;
  for (const g of model.graph.allGraphs())
    for (const v of g.initializers) {
      if (before.has(v) || v.isGraphInput || !v.uses.length) continue;
      const key = dims2key(v.initializer!.dims);
      byDims.set(key, [...(byDims.get(key) ?? []), v]);
    }
  let done = 0;
  const dense: string[] = [];
  const keysOf = (d: readonly number[]) =>
    d.length === 2 ? [dims2key(d), dims2key([d[1]!, d[0]!])] : [dims2key(d)];
  for (const e of exposed) {
    const candidates = keysOf(e.dims)
      .flatMap((key) => byDims.get(key) ?? [])
      .filter((v) => v.graph === e.graph && v.uses.length);
    // the pass's result for this weight did not fit a codebook when the weight itself is still read
    // or when a new weight of its shape and dtype is, and none of them was re-encoded
    let kept = false;
    let left = false;
    for (const v of candidates) {
      const t = v.initializer!;
      if (!e.cb) {
        // a sparse weight: sparse again when that is still smaller (a quantized copy keeps its zeros)
        if (!worthSparse(t, opset)) continue;
        v.replaceAllUsesWith(writeSparse(e.graph, e.dense.name, t));
        e.graph.removeInitializer(v);
        done++;
        continue;
      }
      const axes = t.dims.map((_, a) => a);
      const cb = reencode(t, e.cb, axes);
      if (!cb) {
        left ||= v === e.dense || t.dtype === e.cb.codebook.dtype;
        continue;
      }
      kept = true;
      const k = cb.codebook.dims.at(-1)!;
      cb.bits = bitsFor(k, opset, e.cb.bits);
      const base = e.dense.name; // the weight's name, not the pass's suffixes
      let expanded = writeCodebook(e.graph, base, cb);
      if (cb.transpose) expanded = transposeAfter(e.graph, base, expanded);
      v.replaceAllUsesWith(expanded);
      e.graph.removeInitializer(v);
      done++;
    }
    if (e.cb && left && !kept) dense.push(e.dense.name);
  }
  if (dense.length)
    log.warn(
      `${pass}: ${dense.length} clustered weight(s) no longer fit a codebook after this step and are stored dense (${dense.slice(0, 3).join(', ')}); run ${pass} before cluster-weights to keep both`,
    );
  return done;
}

/** Transpose(x, perm [1, 0]) right after x's producer. */
function transposeAfter(graph: Graph, base: string, x: Value): Value {
  const [r, c] = x.type!.shape as [number, number];
  const node = new Node(graph, 'Transpose', '', graph.model.uniqueName(`${base}_Transpose`));
  node.addInput(x);
  setAttr(node, 'perm', [1, 0]);
  const out = new Value(graph, graph.model.uniqueName(`${base}_transposed`), {
    elemType: x.type!.elemType,
    shape: [c, r],
  });
  node.addOutput(out);
  graph.insertNode(node, graph.nodes.indexOf(x.producer!) + 1);
  return out;
}

/** A DequantizeLinear reading an integer constant (directly or through a codebook expansion). */
function quantizedWeight(v: Value | undefined): boolean {
  const p = v?.producer;
  if (p?.domain !== '' || p.opType !== 'DequantizeLinear') return false;
  const q = p.inputs[0];
  return !!q && (!!constantOf(q) || !!readCodebook(q));
}

/** How many weights that `selects` touches are already quantized (DQ of a constant, MatMulNBits). */
export function quantizedWeights(model: Model, selects: (n: Node) => boolean): number {
  let n = 0;
  for (const node of model.graph.allNodes()) {
    if (!selects(node)) continue;
    if (node.domain === 'com.microsoft' && node.opType === 'MatMulNBits') n++;
    else if (weightSlots(node).some((i) => quantizedWeight(node.inputs[i]))) n++;
  }
  return n;
}

/**
 * Rule 4: what a lossy pass that cannot keep an encoding should say about the weights it left alone.
 * `quantizer`: quantization passes (a second quantization of a quantized weight is not attempted).
 */
export function encodingWarnings(
  model: Model,
  pass: string,
  selects: (n: Node) => boolean,
  options: { codebooks: boolean; quantizer: boolean },
): string[] {
  const out: string[] = [];
  const q = quantizedWeights(model, selects);
  if (q)
    out.push(
      options.quantizer
        ? `${pass}: ${q} weight(s) are already quantized by an earlier step and are left as they are (quantize once)`
        : `${pass}: ${q} weight(s) are already quantized by an earlier step and are left as they are (run ${pass} before quantizing)`,
    );
  const c = options.codebooks ? codebookWeights(model, selects).length : 0;
  if (c)
    out.push(
      `${pass}: ${c} weight(s) are stored as codebooks (cluster-weights ran before) and are left as they are: factoring them would expand the codebook (run ${pass} before cluster-weights)`,
    );
  return out;
}
