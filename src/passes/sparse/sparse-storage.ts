// Sparse storage of a weight (values + positions), written as constant ops that ONNX Runtime folds
// when it loads the model, so inference runs on the dense weight at dense speed while the file holds
// only the non-zeros (ORT's CPU kernels take no sparse weights, docs/ORT.md §1.7).
//  1. positions as uint8 gaps: g_0 = p_0, g_i = p_i - p_{i-1}; a gap over 255 is bridged by extra
//     entries of value 0 every 255 elements (they write a zero where there is one)
//  2. W = Reshape(ScatterElements(ConstantOfShape([n], 0), CumSum(Cast(gaps, int64), 0), values), dims)
//     needs ai.onnx opset >= 11 (CumSum, ScatterElements)
//  3. worth it only when smaller: nnz' · (element bytes + 1) < n · element bytes — float32 below ~80%
//     density, int8 below ~50%
//  4. readSparse recognizes exactly this pattern and gives the dense tensor back

import { attrInt, setAttr } from '../../ir/builder.js';
import { type Graph, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { DataType, dataTypeBits } from '../../onnx/dtype.js';
import { constantOf } from '../util.js';

export const SPARSE_MIN_OPSET = 11;
/** nodes writeSparse adds */
export const SPARSE_NODES = 5;

/** Element keys of a byte-aligned tensor (equal keys = equal stored values; 0 = all-zero bits). */
function elementBytes(t: Tensor): number {
  const bits = dataTypeBits(t.dtype);
  return bits && bits % 8 === 0 ? bits / 8 : 0;
}

/** Positions of the elements whose bytes are not all zero (+0.0; -0.0 counts as a value). */
function nonZeros(t: Tensor): number[] {
  const w = elementBytes(t);
  const b = t.bytes();
  const out: number[] = [];
  for (let i = 0; i < t.size; i++) {
    for (let j = 0; j < w; j++)
      if (b[i * w + j] !== 0) {
        out.push(i);
        break;
      }
  }
  return out;
}

/** Rule 1: gaps and the entries they index (escapes included). */
function gapsOf(positions: number[]): { gaps: Uint8Array; entries: number[] } {
  const gaps: number[] = [];
  const entries: number[] = [];
  let prev = 0;
  let first = true;
  for (const p of positions) {
    let gap = first ? p : p - prev;
    let at = first ? 0 : prev;
    while (gap > 255) {
      at += 255;
      gaps.push(255);
      entries.push(-1 - at); // an escape: value 0 at `at`
      gap -= 255;
    }
    gaps.push(gap);
    entries.push(p);
    prev = p;
    first = false;
  }
  return { gaps: Uint8Array.from(gaps), entries };
}

/** Entries (non-zeros plus the zeros that bridge gaps over 255) the sparse form of these positions has. */
export function gapEntries(positions: number[]): number {
  return gapsOf(positions).entries.length;
}

/** Bytes the sparse form of t takes (rule 3) and its zero fraction, or undefined when t cannot take it. */
export function sparseBytes(t: Tensor): { bytes: number; zeros: number } | undefined {
  const w = elementBytes(t);
  if (!w || t.dims.length === 0 || t.size < 2) return undefined;
  const positions = nonZeros(t);
  const { entries } = gapsOf(positions);
  return { bytes: entries.length * (w + 1), zeros: 1 - positions.length / t.size };
}

/** Whether storing t sparsely saves bytes (rule 3) and the opset allows it (rule 2). */
export function worthSparse(t: Tensor, opset: number): boolean {
  if (opset < SPARSE_MIN_OPSET) return false;
  const sparse = sparseBytes(t);
  return sparse !== undefined && sparse.bytes + 96 < t.byteLength; // 96: the expansion's small constants
}

function init(graph: Graph, name: string, t: Tensor): Value {
  const v = new Value(graph, name, { elemType: t.dtype, shape: [...t.dims] });
  return graph.addInitializer(v, t);
}

/** Rule 2: build the expansion of t in `graph` (its nodes from index `at`); returns the dense value. */
export function writeSparse(graph: Graph, base: string, t: Tensor, at = 0): Value {
  const model = graph.model;
  const w = elementBytes(t);
  const { gaps, entries } = gapsOf(nonZeros(t));
  const src = t.bytes();
  const values = new Uint8Array(entries.length * w);
  entries.forEach((p, i) => {
    if (p >= 0) values.set(src.subarray(p * w, (p + 1) * w), i * w);
  });
  const m = entries.length;
  const n = t.size;
  const op = (opType: string, inputs: Value[], elemType: number, shape: number[]) => {
    const node = new Node(graph, opType, '', model.uniqueName(`${base}_${opType}`));
    for (const v of inputs) node.addInput(v);
    const out = new Value(graph, model.uniqueName(`${base}_${opType.toLowerCase()}`), { elemType, shape });
    node.addOutput(out);
    graph.insertNode(node, at++);
    return node;
  };
  const I64 = DataType.INT64;
  const gapsV = init(
    graph,
    model.uniqueName(`${base}_gaps`),
    Tensor.fromBytes('', DataType.UINT8, [m], gaps),
  );
  const valuesV = init(graph, model.uniqueName(`${base}_values`), Tensor.fromBytes('', t.dtype, [m], values));
  const axis = init(graph, model.uniqueName(`${base}_axis`), Tensor.fromInt64('', [], [0]));
  const size = init(graph, model.uniqueName(`${base}_size`), Tensor.fromInt64('', [1], [n]));
  const dims = init(
    graph,
    model.uniqueName(`${base}_dims`),
    Tensor.fromInt64('', [t.dims.length], [...t.dims]),
  );
  const cast = op('Cast', [gapsV], I64, [m]);
  setAttr(cast, 'to', I64);
  const cumsum = op('CumSum', [cast.outputs[0]!, axis], I64, [m]);
  const zeros = op('ConstantOfShape', [size], t.dtype, [n]);
  setAttr(zeros, 'value', Tensor.fromBytes('value', t.dtype, [1], new Uint8Array(w)));
  const scatter = op('ScatterElements', [zeros.outputs[0]!, cumsum.outputs[0]!, valuesV], t.dtype, [n]);
  setAttr(scatter, 'axis', 0);
  const reshape = op('Reshape', [scatter.outputs[0]!, dims], t.dtype, [...t.dims]);
  return reshape.outputs[0]!;
}

function producer(v: Value | undefined, opType: string): Node | undefined {
  const p = v?.producer;
  return p && p.domain === '' && p.opType === opType ? p : undefined;
}

/** Rule 4: the dense tensor behind a sparse expansion ending in v, and its nodes; else undefined. */
export function readSparse(v: Value): { tensor: Tensor; nodes: Node[] } | undefined {
  const reshape = producer(v, 'Reshape');
  const scatter = producer(reshape?.inputs[0], 'ScatterElements');
  const zeros = producer(scatter?.inputs[0], 'ConstantOfShape');
  const cumsum = producer(scatter?.inputs[1], 'CumSum');
  const cast = producer(cumsum?.inputs[0], 'Cast');
  if (!reshape || !scatter || !zeros || !cumsum || !cast || attrInt(scatter, 'axis', 0) !== 0)
    return undefined;
  if (attrInt(cumsum, 'exclusive', 0) || attrInt(cumsum, 'reverse', 0)) return undefined;
  const gaps = constantOf(cast.inputs[0]);
  const values = constantOf(scatter.inputs[2]);
  const dims = constantOf(reshape.inputs[1])?.toNumbers();
  const fill = zeros.attributes.get('value')?.t;
  if (!gaps || gaps.dtype !== DataType.UINT8 || !values || !dims || values.size !== gaps.size)
    return undefined;
  if (fill?.bytes().some((b) => b !== 0)) return undefined;
  const w = elementBytes(values);
  const n = dims.reduce((a, b) => a * b, 1);
  if (!w || dims.some((d) => d < 0)) return undefined;
  const out = new Uint8Array(n * w);
  const g = gaps.bytes();
  const src = values.bytes();
  let p = 0;
  for (let i = 0; i < g.length; i++) {
    p += g[i]!;
    if (p >= n) return undefined;
    out.set(src.subarray(i * w, (i + 1) * w), p * w);
  }
  return {
    tensor: Tensor.fromBytes('', values.dtype, dims, out),
    nodes: [cast, cumsum, zeros, scatter, reshape],
  };
}
