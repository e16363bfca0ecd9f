// Codebook encoding of a weight (palettization): K values per tensor or per group of output channels
// plus one index per element, written as constant ops that ONNX Runtime folds when it loads the
// model (so inference runs on the float weight at float speed; ORT has no LUT kernel, docs/ORT.md §2.8).
// Other passes re-encode a clustered weight through readCodebook / writeCodebook instead of expanding
// it (cluster → quantize quantizes the codebook; prune after cluster re-encodes).
//  1. indices (one per element, in the weight's element order), stored by `bits` (1–6 or 8):
//       8            uint8 [dims]                          → Cast(int64)
//       4, opset ≥ 21 uint4 [dims] (2 per byte, low nibble first, as ONNX packs) → Cast(int64)
//       1, 2, 4       words of uint8, 3, 5, 6 words of uint32 (little-endian), p = ⌊word bits / bits⌋
//                     indices per word, element j·p + t in bits [t·bits, (t+1)·bits) of word j:
//                     [m, 1] words, m = ⌈n / p⌉ → Cast(int64) → Div([p] = 2^(t·bits)) → Mod(2^bits)
//                     [m, p] → Reshape([-1]) → Slice(0, n) when n is not a multiple of p →
//                     Reshape(dims); needs opset ≥ 10 (Mod, Slice with inputs)
//  2. codebook [K] (one per tensor): W = Gather(codebook, indices).
//     codebook [G, K] (groups along `groupAxis`, the output-channel axis of the consumer: Conv axis 0,
//     Gemm transB=1 axis 0 / transB=0 axis 1, MatMul axis 1 (N) — chosen by the pass, recorded here
//     only as an axis of the weight): channel c of that axis belongs to group ⌊c / groupSize⌋;
//     indices += offsets (int64, the weight's rank, 1 everywhere but groupAxis: group·K), then
//     W = Gather(Reshape(codebook, [-1]), indices).
//  3. the codebook may have any dtype Gather takes (float32, or int8 when a quantizer re-encoded it:
//     the result is then int8 and the caller puts its DequantizeLinear after it).
//  4. sparseIndices: uint8 indices stored sparse (sparse/sparse-storage.ts) → Cast(int64), when entry 0
//     (a pruned weight's exact 0) holds most elements (encode-sparse chooses it)
//  5. readCodebook recognizes exactly these patterns (initializers or Constant nodes) and returns the
//     unpacked indices; expandCodebook gives the weight back (int8 codebooks as their raw values).

import { EdgefitError } from '../../errors.js';
import { attrInt, setAttr } from '../../ir/builder.js';
import { type Graph, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { DataType } from '../../onnx/dtype.js';
import { readSparse, SPARSE_NODES, writeSparse } from '../sparse/sparse-storage.js';
import { constantOf } from '../util.js';

/** a clustered weight as stored: codebook values + one index per element */
export interface Codebook {
  /**
   * the codebook tensor: [K] for one per tensor, or [G, K] for one per group of channels along
   * `groupAxis` of the weight — any dtype (float32, or int8 when a quantizer re-encoded it)
   */
  codebook: Tensor;
  /** per element, the index into its group's codebook (unpacked, 0..K-1), in the weight's element order */
  indices: Uint8Array;
  /** the weight's dims */
  dims: number[];
  /** axis of the weight along which groups of codebooks apply (undefined = one codebook) */
  groupAxis?: number;
  /** number of codebooks (G, the codebook's first dim) when grouped */
  groups?: number;
  /** channels of groupAxis per group (the last group may be smaller); default ⌈dims[groupAxis] / groups⌉ */
  groupSize?: number;
  /** index bits as stored (8, or 1–6 when packed) */
  bits: number;
  /**
   * indices stored sparse (sparse/sparse-storage.ts: the positions of the indices that are not 0, as
   * uint8 gaps, and those indices as uint8), for codebooks whose entry 0 (the pruned zeros) dominates
   */
  sparseIndices?: boolean;
  /** readCodebook only: the expansion's nodes, consumer side last (for passes that replace it) */
  nodes?: Node[];
}

/** The narrowest index width a codebook of K entries packs into: 1–6 bits, else 8 (7 gains nothing). */
export function indexBitsFor(k: number): number {
  const bits = Math.max(1, Math.ceil(Math.log2(k)));
  return bits <= 6 ? bits : 8;
}

/** Whether `bits` wide indices can be written in a graph of this ai.onnx opset (rule 1). */
export function indexBitsSupported(bits: number, opset: number): boolean {
  return bits === 8 ? opset >= 6 : Number.isInteger(bits) && bits >= 1 && bits <= 6 ? opset >= 10 : false;
}

/** the word that holds packed indices of `bits` (rule 1) */
function wordOf(bits: number): { dtype: number; per: number } {
  return 8 % bits === 0
    ? { dtype: DataType.UINT8, per: 8 / bits }
    : { dtype: DataType.UINT32, per: Math.floor(32 / bits) };
}

function entriesOf(cb: Codebook): number {
  return cb.codebook.dims[cb.codebook.dims.length - 1] ?? 0;
}

/** group of every channel along groupAxis, and the element stride of that axis */
function groupLayout(cb: Codebook): { stride: number; channels: number; size: number } | undefined {
  if (cb.groupAxis === undefined || (cb.groups ?? 1) <= 1) return undefined;
  const channels = cb.dims[cb.groupAxis]!;
  let stride = 1;
  for (let a = cb.groupAxis + 1; a < cb.dims.length; a++) stride *= cb.dims[a]!;
  return { stride, channels, size: cb.groupSize ?? Math.ceil(channels / cb.groups!) };
}

/** the expanded float weight (for passes that need the effective weight) */
export function expandCodebook(cb: Codebook): Float32Array {
  const values = cb.codebook.toFloat32(); // int8 codebooks: the raw int8 values as floats
  const k = entriesOf(cb);
  const n = cb.indices.length;
  const out = new Float32Array(n);
  const g = groupLayout(cb);
  if (!g) {
    for (let i = 0; i < n; i++) out[i] = values[cb.indices[i]!]!;
    return out;
  }
  for (let i = 0; i < n; i++) {
    const c = Math.floor(i / g.stride) % g.channels;
    out[i] = values[Math.floor(c / g.size) * k + cb.indices[i]!]!;
  }
  return out;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new EdgefitError('BAD_ARGUMENT', `codebook: ${what}`, 'write a consistent codebook');
}

/** Pack indices of `bits` each into the little-endian bytes of their words (rule 1). */
export function packIndices(indices: Uint8Array, bits: number): Uint8Array {
  const { dtype, per } = wordOf(bits);
  const m = Math.ceil(indices.length / per);
  const words = dtype === DataType.UINT8 ? new Uint8Array(m) : new Uint32Array(m);
  for (let j = 0, i = 0; j < m; j++) {
    let word = 0;
    for (let t = 0; t < per && i < indices.length; t++, i++) word += indices[i]! * 2 ** (t * bits);
    words[j] = word;
  }
  return new Uint8Array(words.buffer);
}

function unpackIndices(words: Uint8Array | Uint32Array, bits: number, n: number): Uint8Array {
  const { per } = wordOf(bits);
  const base = 2 ** bits;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(words[(i / per) | 0]! / 2 ** ((i % per) * bits)) % base;
  return out;
}

/** A tiny graph writer: nodes go in front of the graph in order (their inputs are all constant). */
class Writer {
  private at = 0;
  constructor(
    readonly graph: Graph,
    readonly base: string,
  ) {}

  init(suffix: string, t: Tensor): Value {
    const name = this.graph.model.uniqueName(`${this.base}_${suffix}`);
    const v = new Value(this.graph, name, { elemType: t.dtype, shape: [...t.dims] });
    return this.graph.addInitializer(v, t);
  }

  int64(suffix: string, values: number[], dims = [values.length]): Value {
    return this.init(suffix, Tensor.fromInt64('', dims, values));
  }

  /** a sparse uint8 tensor (sparse-storage.ts), its nodes at the writer's position */
  sparse(suffix: string, t: Tensor): Value {
    const v = writeSparse(this.graph, `${this.base}_${suffix}`, t, this.at);
    this.at += SPARSE_NODES;
    return v;
  }

  op(opType: string, inputs: Value[], elemType: number, shape: number[], attrs: Record<string, number> = {}) {
    const model = this.graph.model;
    const node = new Node(this.graph, opType, '', model.uniqueName(`${this.base}_${opType}`));
    for (const v of inputs) node.addInput(v);
    for (const [k, v] of Object.entries(attrs)) setAttr(node, k, v);
    const out = new Value(this.graph, model.uniqueName(`${this.base}_${opType.toLowerCase()}`), {
      elemType,
      shape,
    });
    node.addOutput(out);
    this.graph.insertNode(node, this.at++);
    return out;
  }
}

/** int64 indices [dims] from the stored form (rule 1) */
function writeIndices(w: Writer, cb: Codebook, opset: number): Value {
  const n = cb.indices.length;
  const I64 = DataType.INT64;
  if (cb.sparseIndices) {
    const sparse = w.sparse('indices', Tensor.fromBytes('', DataType.UINT8, [...cb.dims], cb.indices));
    return w.op('Cast', [sparse], I64, cb.dims, { to: I64 });
  }
  if (cb.bits === 8)
    return w.op(
      'Cast',
      [w.init('indices', Tensor.fromBytes('', DataType.UINT8, [...cb.dims], cb.indices))],
      I64,
      cb.dims,
      {
        to: I64,
      },
    );
  if (cb.bits === 4 && opset >= 21) {
    const u4 = w.init(
      'indices',
      Tensor.fromBytes('', DataType.UINT4, [...cb.dims], packIndices(cb.indices, 4)),
    );
    return w.op('Cast', [u4], I64, cb.dims, { to: I64 });
  }
  const { dtype, per } = wordOf(cb.bits);
  const m = Math.ceil(n / per);
  const packed = w.init(
    'indices_packed',
    Tensor.fromBytes('', dtype, [m, 1], packIndices(cb.indices, cb.bits)),
  );
  const bytes = w.op('Cast', [packed], I64, [m, 1], { to: I64 });
  const divisors = Array.from({ length: per }, (_, t) => 2 ** (t * cb.bits));
  const shifted = w.op('Div', [bytes, w.int64('shifts', divisors)], I64, [m, per]);
  const fields = w.op('Mod', [shifted, w.int64('base', [2 ** cb.bits], [])], I64, [m, per]);
  let flat = fields;
  if (m * per !== n) {
    flat = w.op('Reshape', [fields, w.int64('flat', [-1])], I64, [m * per]);
    flat = w.op('Slice', [flat, w.int64('start', [0]), w.int64('end', [n]), w.int64('axes', [0])], I64, [n]);
  }
  return w.op('Reshape', [flat, w.int64('dims', cb.dims)], I64, cb.dims);
}

/**
 * Build the expansion (nodes + initializers) in `graph`, return the value holding the expanded weight
 * (same dtype as cb.codebook). Every node has constant inputs only, so ORT folds the whole expansion
 * when it loads the model.
 */
export function writeCodebook(graph: Graph, baseName: string, cb: Codebook): Value {
  const opset = graph.model.opset('') ?? 0;
  const n = cb.dims.reduce((a, b) => a * b, 1);
  const k = entriesOf(cb);
  check(cb.indices.length === n, `${cb.indices.length} indices for a weight of ${n} elements`);
  check(indexBitsSupported(cb.bits, Number.POSITIVE_INFINITY), `index bits ${cb.bits} (1 to 6, or 8)`);
  check(k >= 1 && k <= 2 ** cb.bits, `${k} codebook entries do not fit ${cb.bits}-bit indices`);
  if (!indexBitsSupported(cb.bits, opset))
    throw new EdgefitError(
      'UNSUPPORTED',
      `${cb.bits}-bit codebook indices need ai.onnx opset >= ${cb.bits === 8 ? 6 : 10} (the model has ${opset})`,
      cb.bits === 8 ? 'use --storage dense' : 'use more than 64 clusters (8-bit indices) or --storage dense',
    );
  const grouped = groupLayout(cb);
  if (grouped)
    check(
      cb.codebook.dims.length === 2 &&
        cb.codebook.dims[0] === cb.groups &&
        Math.ceil(grouped.channels / grouped.size) === cb.groups,
      `codebook [${cb.codebook.dims}] for ${cb.groups} groups of ${grouped.size} channels`,
    );
  else check(cb.codebook.dims.length === 1, `codebook [${cb.codebook.dims}] without groups`);
  const w = new Writer(graph, baseName);
  let indices = writeIndices(w, cb, opset);
  let table = w.init('codebook', cb.codebook.clone(''));
  if (grouped) {
    const shape = cb.dims.map((d, a) => (a === cb.groupAxis ? d : 1));
    const offsets = Array.from({ length: grouped.channels }, (_, c) => Math.floor(c / grouped.size) * k);
    indices = w.op('Add', [indices, w.int64('offsets', offsets, shape)], DataType.INT64, cb.dims);
    table = w.op('Reshape', [table, w.int64('flat', [-1])], cb.codebook.dtype, [cb.groups! * k]);
  }
  return w.op('Gather', [table, indices], cb.codebook.dtype, cb.dims);
}

/** the producer of v when it is an ai.onnx `opType` node, else undefined */
function producer(v: Value | undefined, opType: string): Node | undefined {
  const p = v?.producer;
  return p && p.domain === '' && p.opType === opType ? p : undefined;
}

function ints(v: Value | undefined): number[] | undefined {
  const t = constantOf(v);
  return t && (t.dtype === DataType.INT64 || t.dtype === DataType.INT32) ? t.toNumbers() : undefined;
}

function same(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** unpacked indices and their bits from the int64 index value (rule 1), with the nodes passed */
function readIndices(
  v: Value,
  nodes: Node[],
): { indices: Uint8Array; bits: number; dims: number[]; sparse?: boolean } | undefined {
  const cast = producer(v, 'Cast');
  if (cast) {
    if (attrInt(cast, 'to') !== DataType.INT64) return undefined;
    const sparse = cast.inputs[0] && !constantOf(cast.inputs[0]) ? readSparse(cast.inputs[0]) : undefined;
    if (sparse?.tensor.dtype === DataType.UINT8) {
      nodes.push(...sparse.nodes, cast);
      return {
        indices: sparse.tensor.typed() as Uint8Array,
        bits: 8,
        dims: [...sparse.tensor.dims],
        sparse: true,
      };
    }
    const t = constantOf(cast.inputs[0]);
    if (!t) return undefined;
    nodes.push(cast);
    if (t.dtype === DataType.UINT8) return { indices: t.typed() as Uint8Array, bits: 8, dims: [...t.dims] };
    if (t.dtype === DataType.UINT4)
      return { indices: unpackIndices(t.bytes(), 4, t.size), bits: 4, dims: [...t.dims] };
    return undefined;
  }
  const reshape = producer(v, 'Reshape');
  const dims = ints(reshape?.inputs[1]);
  if (!reshape || !dims || dims.some((d) => d < 0)) return undefined;
  const n = dims.reduce((a, b) => a * b, 1);
  const chain: Node[] = [reshape];
  let at = reshape.inputs[0];
  const slice = producer(at, 'Slice');
  if (slice) {
    const flat = producer(slice.inputs[0], 'Reshape');
    if (!same(ints(slice.inputs[1]), [0]) || !same(ints(slice.inputs[2]), [n]) || !flat) return undefined;
    if (slice.inputs[3] && !same(ints(slice.inputs[3]), [0])) return undefined;
    if (!same(ints(flat.inputs[1]), [-1])) return undefined;
    chain.push(slice, flat);
    at = flat.inputs[0];
  }
  const mod = producer(at, 'Mod');
  const div = producer(mod?.inputs[0], 'Div');
  const cast8 = producer(div?.inputs[0], 'Cast');
  const base = ints(mod?.inputs[1]);
  const shifts = ints(div?.inputs[1]);
  const packed = constantOf(cast8?.inputs[0]);
  if (!mod || !div || !cast8 || !base || !shifts || !packed || base.length !== 1) return undefined;
  const bits = Math.log2(base[0]!);
  if (bits === 8 || !indexBitsSupported(bits, Number.POSITIVE_INFINITY)) return undefined;
  const { dtype, per } = wordOf(bits);
  if (
    !same(
      shifts,
      Array.from({ length: per }, (_, t) => 2 ** (t * bits)),
    )
  )
    return undefined;
  if (packed.dtype !== dtype || !same(packed.dims, [Math.ceil(n / per), 1])) return undefined;
  if (attrInt(cast8, 'to') !== DataType.INT64 || attrInt(mod, 'fmod', 0) !== 0) return undefined;
  nodes.push(cast8, div, mod, ...chain.reverse());
  const words = dtype === DataType.UINT8 ? packed.bytes() : (packed.typed() as Uint32Array);
  return { indices: unpackIndices(words, bits, n), bits, dims };
}

/**
 * Recognize the expansion pattern that writeCodebook makes, ending in `v` (the value the consumer
 * reads); undefined if v is not a codebook expansion.
 */
export function readCodebook(v: Value): Codebook | undefined {
  const gather = producer(v, 'Gather');
  if (!gather || attrInt(gather, 'axis', 0) !== 0) return undefined;
  const nodes: Node[] = [];
  let idx = gather.inputs[1];
  const add = producer(idx, 'Add');
  let offsets: number[] | undefined;
  let offsetDims: number[] = [];
  if (add) {
    const t = constantOf(add.inputs[1]);
    if (!t || t.dtype !== DataType.INT64) return undefined;
    offsets = t.toNumbers();
    offsetDims = [...t.dims];
    idx = add.inputs[0];
  }
  const read = idx && readIndices(idx, nodes);
  if (!read) return undefined;
  const { indices, bits, dims, sparse } = read;
  const cb: Codebook = { codebook: undefined as unknown as Tensor, indices, dims, bits, nodes };
  if (sparse) cb.sparseIndices = true;
  if (add && offsets) {
    const flat = producer(gather.inputs[0], 'Reshape');
    const table = constantOf(flat?.inputs[0]);
    if (!flat || !table || table.dims.length !== 2 || !same(ints(flat.inputs[1]), [-1])) return undefined;
    const axis = offsetDims.findIndex((d, a) => d === dims[a] && d > 1);
    const [groups, k] = table.dims as [number, number];
    if (offsetDims.length !== dims.length || axis < 0 || offsetDims.some((d, a) => a !== axis && d !== 1))
      return undefined;
    const size = offsets.filter((o) => o === 0).length;
    if (!offsets.every((o, c) => o === Math.floor(c / size) * k) || Math.ceil(dims[axis]! / size) !== groups)
      return undefined;
    Object.assign(cb, { codebook: table, groupAxis: axis, groups, groupSize: size });
    nodes.push(add, flat);
  } else {
    const table = constantOf(gather.inputs[0]);
    if (table?.dims.length !== 1) return undefined;
    cb.codebook = table;
  }
  const k = entriesOf(cb);
  for (const i of indices) if (i >= k) return undefined;
  nodes.push(gather);
  return cb;
}
