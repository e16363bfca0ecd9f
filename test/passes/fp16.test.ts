import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpz } from '../../src/data/npz.js';
import { setAttr } from '../../src/ir/builder.js';
import { cloneModel } from '../../src/ir/clone.js';
import { Graph, type Model, type Node } from '../../src/ir/graph.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { verifyModel } from '../../src/ir/verify.js';
import { Rng } from '../../src/kernels/random.js';
import { DataType } from '../../src/onnx/dtype.js';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../../src/onnx/float16.js';
import type { PassStats } from '../../src/passes/pass.js';
import {
  DEFAULT_BLOCK_OPS,
  type Fp16Options,
  quantizeFp16,
} from '../../src/passes/quantize/quantize-fp16.js';
import { runPasses } from '../../src/pipeline/pass-manager.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import type { HostTensor, Runtime } from '../../src/runtime/types.js';
import { webRuntime } from '../../src/runtime/web.js';
import { ROOT } from '../helpers/cli.js';
import { floatFeed, GraphBuilder, newModel, randn, Tensor, weight } from '../helpers/models.js';

const FLOAT = DataType.FLOAT;
const HALF = DataType.FLOAT16;
const MODEL = new Uint8Array(readFileSync(join(ROOT, 'examples', 'fashion-mnist.onnx')));
const data = decodeNpz(new Uint8Array(readFileSync(join(ROOT, 'examples', 'fashion-mnist-1k.npz'))));
const images = data.get('input')!.data as Float32Array;
const imageFeeds = { input: { dtype: FLOAT, dims: [1000, 1, 28, 28], data: images } };

function convert(model: Model, options: Partial<Fp16Options> = {}) {
  const warnings: string[] = [];
  const copy = cloneModel(model);
  const res = quantizeFp16.apply(copy, quantizeFp16.options.parse(options), {
    log: { info() {}, warn: (w) => warnings.push(w) },
    rng: new Rng(0),
    selects: () => true,
  }) as { changed: boolean; stats: PassStats };
  return { model: copy, stats: res.stats, warnings };
}

async function runOn(
  runtime: Runtime,
  model: Model | Uint8Array,
  feeds: Record<string, HostTensor>,
): Promise<Record<string, HostTensor>> {
  const s = await runtime.createSession(model instanceof Uint8Array ? model : encodeModel(model));
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** float32 view of a float or float16 output */
function floats(t: HostTensor): Float32Array {
  return t.dtype === HALF ? float16ArrayToFloat32(t.data as Uint16Array) : (t.data as Float32Array);
}

function argmaxRows(x: Float32Array, cols: number): number[] {
  return Array.from({ length: x.length / cols }, (_, r) => {
    let best = 0;
    for (let j = 1; j < cols; j++) if (x[r * cols + j]! > x[r * cols + best]!) best = j;
    return best;
  });
}

function agreement(a: Float32Array, b: Float32Array): number {
  const x = argmaxRows(a, 10);
  const y = argmaxRows(b, 10);
  return x.filter((c, i) => c === y[i]).length / x.length;
}

/** max |a - b| / max |a| */
function relError(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(a[i]!));
  }
  return d / m;
}

const inputTypeOf = (n: Node, i: number) => n.inputs[i]?.initializer?.dtype ?? n.inputs[i]?.type?.elemType;

describe('quantize-fp16 on the Fashion-MNIST CNN', async () => {
  const original = decodeModel(MODEL);
  const reference = floats((await runOn(nodeRuntime, MODEL, imageFeeds)).logits!);

  it('halves the file and keeps top-1 on 1000 images in onnxruntime-node and -web', async () => {
    const { model, history } = await runPasses(
      cloneModel(original),
      [{ pass: quantizeFp16, options: quantizeFp16.options.parse({}) }],
      { runtime: nodeRuntime, guardFeeds: [{ input: floatFeed([4, 1, 28, 28], 1) }] },
    );
    expect(verifyModel(model)).toEqual([]);
    const stats = history[0]!.stats;
    expect(stats).toMatchObject({
      convertedNodes: 21,
      blockedNodes: 0,
      castsInserted: 2,
      overflowWeights: 0,
    });
    expect(stats.weightBytesAfter).toBe(stats.weightBytesBefore! / 2);
    const bytes = encodeModel(model);
    const ratio = bytes.length / MODEL.length;
    expect(ratio).toBeGreaterThan(0.49);
    expect(ratio).toBeLessThan(0.51);
    // every weight is float16; the graph's input and output stay float32 behind Casts
    for (const v of model.graph.initializers) expect(v.initializer!.dtype).toBe(HALF);
    expect(model.graph.inputs[0]!.type!.elemType).toBe(FLOAT);
    expect(model.graph.outputs[0]!.name).toBe('logits');
    expect(model.graph.outputs[0]!.type!.elemType).toBe(FLOAT);
    for (const runtime of [nodeRuntime, webRuntime]) {
      const out = (await runOn(runtime, bytes, imageFeeds)).logits!;
      expect(out.dtype).toBe(FLOAT);
      const logits = floats(out);
      expect(agreement(reference, logits)).toBeGreaterThanOrEqual(0.999);
      expect(relError(reference, logits)).toBeLessThan(5e-3);
    }
  });

  it('keepIoTypes: false makes the input and output float16', async () => {
    const { model, stats } = convert(original, { keepIoTypes: false });
    expect(verifyModel(model)).toEqual([]);
    expect(stats.castsInserted).toBe(0);
    expect(model.graph.inputs[0]!.type!.elemType).toBe(HALF);
    expect(model.graph.outputs[0]!.type!.elemType).toBe(HALF);
    const half = { input: { dtype: HALF, dims: [1000, 1, 28, 28], data: float32ArrayToFloat16(images) } };
    const out = (await runOn(nodeRuntime, model, half)).logits!;
    expect(out.dtype).toBe(HALF);
    expect(agreement(reference, floats(out))).toBeGreaterThanOrEqual(0.999);
  });

  it("'weights' mode: fp16 weights read through Cast(to=FLOAT), half the size, float32 activations", async () => {
    const { model, stats } = convert(original, { mode: 'weights' });
    expect(verifyModel(model)).toEqual([]);
    expect(stats.tensorsConverted).toBe(17); // every weight but the 10-element Gemm bias
    expect(stats.castsInserted).toBe(17);
    const casts = model.graph.nodes.filter((n) => n.opType === 'Cast');
    for (const c of casts) expect(c.inputs[0]!.initializer!.dtype).toBe(HALF);
    const bytes = encodeModel(model);
    const ratio = bytes.length / MODEL.length;
    expect(ratio).toBeGreaterThan(0.49);
    expect(ratio).toBeLessThan(0.52);
    for (const runtime of [nodeRuntime, webRuntime]) {
      const logits = floats((await runOn(runtime, bytes, imageFeeds)).logits!);
      expect(relError(reference, logits)).toBeLessThan(1e-2);
      expect(agreement(reference, logits)).toBeGreaterThanOrEqual(0.999);
    }
  });

  it('exclude keeps a block float32 with Casts only at its borders', async () => {
    const { model, stats } = convert(original, { exclude: ['/features/features.3/*'] });
    expect(verifyModel(model)).toEqual([]);
    expect(stats).toMatchObject({ convertedNodes: 16, blockedNodes: 5, blocked_name: 5 });
    // graph input, graph output, MaxPool -> block (read twice, one Cast), block -> next Conv
    expect(stats.castsInserted).toBe(4);
    const block = model.graph.nodes.filter((n) => n.name.startsWith('/features/features.3/'));
    for (const n of block.filter((n) => n.opType === 'Conv')) expect(inputTypeOf(n, 1)).toBe(FLOAT);
    const logits = floats((await runOn(nodeRuntime, model, imageFeeds)).logits!);
    expect(agreement(reference, logits)).toBeGreaterThanOrEqual(0.999);
  });
});

/**
 * x[1,2,4,4] -> Resize(scales) -> Shape -> Gather -> Concat -> Reshape -> LayerNormalization
 *   -> Div(Cast(Gather(shape), to=FLOAT)) -> Add(ConstantOfShape(0.25)) -> If(cond: Mul by a Constant,
 *   else Add a branch weight) -> y;  the LayerNormalization output is a second graph output.
 */
function mixedModel(): Model {
  const m = newModel({ '': 17 });
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', { elemType: FLOAT, shape: [1, 2, 4, 4] });
  const cond = b.input('cond', { elemType: DataType.BOOL, shape: [] });
  const scales = b.weight('scales', Tensor.fromFloat32('scales', [4], [1, 1, 2, 2]));
  const r = b.op('Resize', [x, undefined, scales], { mode: 'linear' });
  const shape = b.op('Shape', [r]);
  const first2 = b.op('Gather', [shape, b.weight('idx', Tensor.fromInt64('idx', [2], [0, 1]))], { axis: 0 });
  const target = b.op('Concat', [first2, b.weight('minus1', Tensor.fromInt64('m', [1], [-1]))], { axis: 0 });
  const y = b.op('Reshape', [r, target]);
  const ln = b.op('LayerNormalization', [y, weight(b, 'gamma', [64], 3), weight(b, 'beta', [64], 4)], {
    axis: -1,
  });
  const w = b.op('Gather', [shape, b.weight('idx3', Tensor.fromInt64('idx3', [], [3]))], { axis: 0 });
  const z = b.op('Div', [ln, b.op('Cast', [w], { to: FLOAT })]);
  const quarter = b.op('ConstantOfShape', [b.op('Shape', [z])], {
    value: Tensor.fromFloat32('value', [1], [0.25]),
  });
  const zz = b.op('Add', [z, quarter]);
  const ifNode = b.node('If', [cond], {}, { outputs: ['y'] });
  for (const [branch, seed] of [
    ['then_branch', 1],
    ['else_branch', 2],
  ] as const) {
    const g = new Graph(m, ifNode);
    g.name = branch;
    const gb = new GraphBuilder(g);
    const k =
      seed === 1
        ? gb.op('Constant', [], { value: Tensor.fromFloat32('k', [64], randn(64, 7)) })
        : weight(gb, 'k_else', [64], 8);
    const out = gb.op(seed === 1 ? 'Mul' : 'Add', [zz, k]);
    out.setType({ elemType: FLOAT, shape: [1, 2, 64] });
    gb.output(out);
    setAttr(ifNode, branch, g);
  }
  b.output(ifNode.outputs[0]!);
  b.output(ln);
  return m;
}

describe('quantize-fp16 on a hand-built graph', () => {
  const feeds = (c: number): Record<string, HostTensor> => ({
    x: floatFeed([1, 2, 4, 4], 5),
    cond: { dtype: DataType.BOOL, dims: [], data: new Uint8Array([c]) },
  });

  it('Resize scales, an integer shape path, LayerNormalization and an If subgraph', async () => {
    const original = mixedModel();
    expect(verifyModel(original)).toEqual([]);
    const { model, stats } = convert(original);
    expect(verifyModel(model)).toEqual([]);
    expect(stats.blockedNodes).toBe(0);
    const nodes = [...model.graph.allNodes()];
    const find = (op: string) => nodes.find((n) => n.opType === op)!;
    // Resize's scales stay float32 (the spec types them as float only); the shape path stays int64
    expect(inputTypeOf(find('Resize'), 2)).toBe(FLOAT);
    expect(find('Reshape').inputs[1]!.producer!.opType).toBe('Concat');
    expect(inputTypeOf(find('Concat'), 1)).toBe(DataType.INT64);
    // LayerNormalization weights, the ConstantOfShape value, the If Constant and branch weight: float16
    expect(inputTypeOf(find('LayerNormalization'), 1)).toBe(HALF);
    expect(find('ConstantOfShape').attributes.get('value')!.t!.dtype).toBe(HALF);
    expect(find('Constant').attributes.get('value')!.t!.dtype).toBe(HALF);
    const elseAdd = nodes.filter((n) => n.opType === 'Add').find((n) => n.graph !== model.graph)!;
    expect(inputTypeOf(elseAdd, 1)).toBe(HALF);
    // the int64 -> float Cast now writes float16; branch outputs are float16
    const casts = nodes.filter((n) => n.opType === 'Cast' && n.inputs[0]!.producer?.opType === 'Gather');
    expect(casts.map((n) => Number(n.attributes.get('to')!.proto.i))).toEqual([HALF]);
    for (const g of model.graph.nodes.find((n) => n.opType === 'If')!.subgraphs())
      expect(g.outputs[0]!.type!.elemType).toBe(HALF);
    for (const runtime of [nodeRuntime, webRuntime])
      for (const c of [1, 0]) {
        const before = await runOn(runtime, original, feeds(c));
        const after = await runOn(runtime, model, feeds(c));
        for (const name of Object.keys(before)) {
          expect(after[name]!.dtype).toBe(FLOAT);
          expect(relError(floats(before[name]!), floats(after[name]!))).toBeLessThan(1e-2);
        }
      }
  });

  it('a weight beyond the fp16 range keeps its reader float32 and is named in the log', async () => {
    // attention-mask style: x + (-1e6 on masked columns) -> Softmax -> MatMul
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: FLOAT, shape: [3, 4] });
    const mask = b.weight('mask', Tensor.fromFloat32('mask', [4], [0, 0, -1e6, 0]));
    const masked = b.op('Add', [x, mask], {}, { name: 'masked_add' });
    const p = b.op('Softmax', [masked], { axis: -1 });
    b.output(b.op('MatMul', [p, weight(b, 'w', [4, 3], 2)]));
    const { model, stats, warnings } = convert(m);
    expect(verifyModel(model)).toEqual([]);
    expect(stats).toMatchObject({
      overflowWeights: 1,
      blocked_overflow: 1,
      blockedNodes: 1,
      convertedNodes: 2,
    });
    expect(warnings.join('\n')).toMatch(/weight mask holds \|x\| = 1\.000e\+6 > 65504.*masked_add/);
    const add = model.graph.nodes.find((n) => n.name === 'masked_add')!;
    expect(inputTypeOf(add, 1)).toBe(FLOAT);
    expect(add.inputs[0]!.name).toBe('x'); // float32 input read directly, no Cast
    expect(inputTypeOf(model.graph.nodes.find((n) => n.opType === 'MatMul')!, 1)).toBe(HALF);
    const feeds = { x: floatFeed([3, 4], 3) };
    const before = floats(Object.values(await runOn(nodeRuntime, m, feeds))[0]!);
    const after = floats(Object.values(await runOn(nodeRuntime, model, feeds))[0]!);
    expect(relError(before, after)).toBeLessThan(1e-2);
  });

  it('converts a Loop body (carried value and outer-scope reads) and blocks untyped sequence ops', async () => {
    const m = newModel({ '': 17 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: FLOAT, shape: [1, 4] });
    const trips = b.weight('trips', Tensor.fromInt64('trips', [], [3]));
    const yes = b.weight('yes', Tensor.fromTyped('yes', DataType.BOOL, [], new Uint8Array([1])));
    const acc0 = weight(b, 'acc0', [1, 4], 9);
    const loop = b.node('Loop', [trips, yes, acc0], {}, { outputs: ['acc_final'] });
    const body = new Graph(m, loop);
    body.name = 'body';
    const lb = new GraphBuilder(body);
    lb.input('iter', { elemType: DataType.INT64, shape: [] });
    const keep = lb.input('keep', { elemType: DataType.BOOL, shape: [] });
    const acc = lb.input('acc', { elemType: FLOAT, shape: [1, 4] });
    const next = lb.op('Add', [acc, lb.op('Mul', [x, weight(lb, 'w_body', [4], 10)])]);
    next.setType({ elemType: FLOAT, shape: [1, 4] });
    const keepOut = lb.op('Identity', [keep]);
    keepOut.setType({ elemType: DataType.BOOL, shape: [] });
    lb.output(keepOut);
    lb.output(next);
    setAttr(loop, 'body', body);
    // SequenceConstruct / ConcatFromSequence and the Sigmoid after them: shape inference gives no
    // tensor type there, so they are kept float32
    const seq = b.op('SequenceConstruct', [loop.outputs[0]!, b.op('Relu', [x])]);
    const cat = b.op('ConcatFromSequence', [seq], { axis: 0 });
    b.output(b.op('Sigmoid', [cat]));
    expect(verifyModel(m)).toEqual([]);
    const { model, stats } = convert(m);
    expect(verifyModel(model)).toEqual([]);
    expect(stats).toMatchObject({ blocked_unknownType: 3, blockedNodes: 3 });
    const converted = model.graph.nodes.find((n) => n.opType === 'Loop')!.subgraphs()[0]!;
    expect(converted.inputs[2]!.type!.elemType).toBe(HALF);
    expect(converted.outputs[1]!.type!.elemType).toBe(HALF);
    expect(inputTypeOf(model.graph.nodes.find((n) => n.opType === 'Loop')!, 2)).toBe(HALF);
    const feeds = { x: floatFeed([1, 4], 6) };
    for (const runtime of [nodeRuntime, webRuntime]) {
      const before = floats(Object.values(await runOn(runtime, m, feeds))[0]!);
      const after = floats(Object.values(await runOn(runtime, model, feeds))[0]!);
      expect(relError(before, after)).toBeLessThan(1e-2);
    }
  });

  it('keeps ops of other domains float32 by default and converts them when unblocked by name', async () => {
    const m = newModel({ '': 17, 'com.microsoft': 1 });
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: FLOAT, shape: [2, 8] });
    const h = b.op('MatMul', [x, weight(b, 'w1', [8, 8], 1)]);
    const g = b.op('Gelu', [h], {}, { domain: 'com.microsoft' });
    b.output(b.op('MatMul', [g, weight(b, 'w2', [8, 4], 2)]));
    expect(DEFAULT_BLOCK_OPS).toContain('*::*');
    const { model, stats } = convert(m);
    expect(verifyModel(model)).toEqual([]);
    expect(stats).toMatchObject({ blocked_op: 1, castsInserted: 4 });
    const feeds = { x: floatFeed([2, 8], 4) };
    const before = floats(Object.values(await runOn(nodeRuntime, m, feeds))[0]!);
    const after = floats(Object.values(await runOn(nodeRuntime, model, feeds))[0]!);
    expect(relError(before, after)).toBeLessThan(1e-2);
    // blockOps without '*::*' but naming another domain's op keeps only that one
    const other = convert(m, { blockOps: ['com.microsoft::FusedGemm'] });
    expect(other.stats).toMatchObject({ blockedNodes: 0, castsInserted: 2 });
    expect(verifyModel(other.model)).toEqual([]);
    // ORT has no fp16 Gelu kernel on CPU: it inserts its own Casts, and the model still runs
    const unblocked = floats(Object.values(await runOn(nodeRuntime, other.model, feeds))[0]!);
    expect(relError(before, unblocked)).toBeLessThan(1e-2);
  });
});
