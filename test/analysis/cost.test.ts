// Cost analysis against hand-computed numbers (the arithmetic is in the comments): MACs of every
// convolution flavour and of matrix products, weights counted once wherever they live (initializers,
// Constant nodes, If branches, behind DequantizeLinear), and peak activation memory on a small chain.

import { describe, expect, it } from 'vitest';
import { analyzeCost, inferShapes } from '../../src/analysis/index.js';
import { GraphBuilder, newModel } from '../../src/ir/builder.js';
import { type Dim, Graph, type Model, type TensorType } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';

const FLOAT = DataType.FLOAT;
const f32 = (shape: Dim[]): TensorType => ({ elemType: FLOAT, shape });

function zeros(name: string, dims: number[]): Tensor {
  return Tensor.fromFloat32(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));
}

function setup(): { model: Model; b: GraphBuilder } {
  const model = newModel({ '': 17 });
  return { model, b: new GraphBuilder(model.graph) };
}

/** The cost row of the node named `name`. */
function layer(model: Model, name: string, options: Parameters<typeof inferShapes>[1] = {}) {
  const cost = analyzeCost(model, inferShapes(model, options));
  const row = cost.layers.find((l) => l.name === name);
  if (!row) throw new Error(`no layer ${name} in ${cost.layers.map((l) => l.name).join(', ')}`);
  return row;
}

describe('MACs of convolutions', () => {
  it('grouped Conv: in 8 → out 16, group 4, 3x3, stride 2, pad 1, 32x32', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 8, 32, 32]));
    const w = b.weight('w', zeros('w', [16, 2, 3, 3]));
    const bias = b.weight('bias', zeros('bias', [16]));
    b.output(b.op('Conv', [x, w, bias], { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] }, { name: 'conv' }));
    const row = layer(model, 'conv');
    // out 16x16: N·OutC·OH·OW·(InC/group)·KH·KW = 1·16·16·16·(8/4)·3·3 = 4096·18 = 73728
    expect(row.macs).toBe(73_728);
    // params 16·2·3·3 + 16 = 304, 4 bytes each
    expect(row.params).toBe(304);
    expect(row.weightBytes).toBe(1216);
    expect(row.weightBytesByDtype).toEqual({ FLOAT: 1216 });
    expect(row.activationBytes).toBe(16 * 16 * 16 * 4);
    expect(row.outputShapes).toEqual([[1, 16, 16, 16]]);
  });

  it('depthwise Conv: group = C = 8, pad 1, 32x32', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 8, 32, 32]));
    b.op(
      'Conv',
      [x, b.weight('w', zeros('w', [8, 1, 3, 3]))],
      { group: 8, pads: [1, 1, 1, 1] },
      { name: 'dw' },
    );
    // 1·8·32·32·(8/8)·3·3 = 8192·9 = 73728
    expect(layer(model, 'dw').macs).toBe(73_728);
  });

  it('dilated Conv: dilation 2 on 16x16', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 4, 16, 16]));
    b.op('Conv', [x, b.weight('w', zeros('w', [8, 4, 3, 3]))], { dilations: [2, 2] }, { name: 'dil' });
    // effective kernel 5 -> 12x12 out; 1·8·12·12·4·3·3 = 1152·36 = 41472
    expect(layer(model, 'dil').macs).toBe(41_472);
  });

  it('strided Conv: stride 2, pad 1 on 224x224', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 3, 224, 224]));
    b.op(
      'Conv',
      [x, b.weight('w', zeros('w', [32, 3, 3, 3]))],
      { strides: [2, 2], pads: [1, 1, 1, 1] },
      { name: 's2' },
    );
    // floor((224 + 2 - 3) / 2) + 1 = 112; 1·32·112·112·3·3·3 = 401408·27 = 10838016
    expect(layer(model, 's2').macs).toBe(10_838_016);
  });

  it('ConvTranspose: stride 2, output_padding 1, group 2', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 16, 8, 8]));
    const w = b.weight('w', zeros('w', [16, 4, 3, 3]));
    b.op(
      'ConvTranspose',
      [x, w],
      { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1], group: 2 },
      { name: 'up' },
    );
    const row = layer(model, 'up');
    // out: 2·(8-1) + 1 + 3 - 2 = 16, channels 4·2 = 8
    expect(row.outputShapes).toEqual([[1, 8, 16, 16]]);
    // N·InC·IH·IW·(OutC/group)·KH·KW = 1·16·8·8·4·3·3 = 1024·36 = 36864
    expect(row.macs).toBe(36_864);
  });
});

describe('MACs of matrix products', () => {
  it('Gemm with transB = 1 (bias not counted)', () => {
    const { model, b } = setup();
    const a = b.input('a', f32([4, 64]));
    const w = b.weight('w', zeros('w', [32, 64]));
    b.op('Gemm', [a, w, b.weight('c', zeros('c', [32]))], { transB: 1 }, { name: 'fc' });
    const row = layer(model, 'fc');
    expect(row.macs).toBe(4 * 32 * 64); // M·N·K = 8192
    expect(row.params).toBe(32 * 64 + 32); // 2080
  });

  it('batched MatMul [2,3,4,5]·[5,6] and attention scores [1,4,8,16]·[1,4,16,8]', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([2, 3, 4, 5]));
    b.op('MatMul', [x, b.weight('w', zeros('w', [5, 6]))], {}, { name: 'batched' });
    const q = b.input('q', f32([1, 4, 8, 16]));
    const k = b.input('k', f32([1, 4, 16, 8]));
    b.op('MatMul', [q, k], {}, { name: 'qk' });
    expect(layer(model, 'batched').macs).toBe(2 * 3 * 4 * 6 * 5); // batch·M·N·K = 720
    const qk = layer(model, 'qk');
    expect(qk.macs).toBe(1 * 4 * 8 * 8 * 16); // 4096
    expect(qk.params).toBe(0); // activation × activation: no weights
  });

  it('quantized: MatMulInteger and MatMulNBits count like MatMul', () => {
    const model = newModel({ '': 17, 'com.microsoft': 1 });
    const b = new GraphBuilder(model.graph);
    const a = b.input('a', { elemType: DataType.UINT8, shape: [2, 16] });
    const w = b.weight('w', Tensor.fromTyped('w', DataType.UINT8, [16, 8], new Uint8Array(128)));
    b.op('MatMulInteger', [a, w], {}, { name: 'mmi' });
    const af = b.input('af', f32([3, 64]));
    const packed = b.weight('q', Tensor.fromTyped('q', DataType.UINT8, [32, 2, 16], new Uint8Array(1024)));
    const scales = b.weight('s', zeros('s', [64]));
    b.op(
      'MatMulNBits',
      [af, packed, scales],
      { K: 64, N: 32, bits: 4, block_size: 32 },
      { domain: 'com.microsoft', name: 'nbits' },
    );
    expect(layer(model, 'mmi').macs).toBe(2 * 8 * 16); // 256
    const nbits = layer(model, 'nbits');
    expect(nbits.outputShapes).toEqual([[3, 32]]);
    expect(nbits.macs).toBe(3 * 32 * 64); // M·N·K = 6144
    expect(nbits.weightBytesByDtype).toEqual({ UINT8: 1024, FLOAT: 256 });
  });
});

describe('weights', () => {
  it('a weight shared by two nodes counts once, for its first user', () => {
    const { model, b } = setup();
    const w = b.weight('w', zeros('w', [8, 8]));
    const x = b.input('x', f32([1, 8]));
    const h = b.op('MatMul', [x, w], {}, { name: 'first' });
    b.output(b.op('MatMul', [h, w], {}, { name: 'second' }));
    const cost = analyzeCost(model);
    expect(cost.params).toBe(64);
    expect(cost.weightBytes).toBe(256);
    expect(cost.layers.map((l) => [l.name, l.params])).toEqual([
      ['first', 64],
      ['second', 0],
    ]);
  });

  it('a Constant node holding a weight counts, for the layer reading it', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 3, 8, 8]));
    const w = b.op('Constant', [], { value: zeros('wc', [4, 3, 1, 1]) }, { name: 'const' });
    b.output(b.op('Conv', [x, w], {}, { name: 'conv' }));
    const cost = analyzeCost(model);
    expect(cost.params).toBe(12);
    expect(cost.layers.find((l) => l.name === 'conv')?.params).toBe(12);
    expect(cost.layers.find((l) => l.name === 'const')).toMatchObject({ params: 0, activationBytes: 0 });
    expect(cost.macs).toBe(4 * 8 * 8 * 3); // 768
  });

  it('weights behind DequantizeLinear belong to the layer that uses them', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 16]));
    const q = b.weight('wq', Tensor.fromTyped('wq', DataType.INT8, [16, 8], new Int8Array(128)));
    const scale = b.weight('scale', Tensor.fromFloat32('scale', [], [0.1]));
    const zp = b.weight('zp', Tensor.fromTyped('zp', DataType.INT8, [], new Int8Array(1)));
    const w = b.op('DequantizeLinear', [q, scale, zp], {}, { name: 'dq' });
    b.output(b.op('MatMul', [x, w], {}, { name: 'mm' }));
    const cost = analyzeCost(model);
    const mm = cost.layers.find((l) => l.name === 'mm')!;
    expect(mm.params).toBe(128 + 1 + 1);
    expect(mm.weightBytesByDtype).toEqual({ INT8: 129, FLOAT: 4 });
    expect(cost.layers.find((l) => l.name === 'dq')?.params).toBe(0);
    expect(cost.weightBytesByDtype).toEqual({ INT8: 129, FLOAT: 4 });
  });

  it('If branches: weights in both branches count, nodes are prefixed by their parent', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 16]));
    const cond = b.input('cond', { elemType: DataType.BOOL, shape: [] });
    const thenB = new GraphBuilder(new Graph(model));
    thenB.output(thenB.op('MatMul', [x, thenB.weight('wt', zeros('wt', [16, 8]))], {}, { name: 'mm_then' }));
    const elseB = new GraphBuilder(new Graph(model));
    const we = elseB.op('Constant', [], { value: zeros('we', [16, 8]) }, { name: 'w_else' });
    elseB.output(elseB.op('MatMul', [x, we], {}, { name: 'mm_else' }));
    const node = b.node('If', [cond], { then_branch: thenB.graph, else_branch: elseB.graph }, { name: 'if' });
    thenB.graph.parentNode = node;
    elseB.graph.parentNode = node;
    b.output(node.outputs[0]!);
    const cost = analyzeCost(model);
    expect(cost.layers.map((l) => l.name)).toEqual([
      'if',
      'if/then_branch/mm_then',
      'if/else_branch/w_else',
      'if/else_branch/mm_else',
    ]);
    expect(cost.params).toBe(2 * 16 * 8); // 256
    expect(cost.layers.find((l) => l.name === 'if/else_branch/mm_else')?.params).toBe(128);
    expect(cost.macs).toBe(2 * 8 * 16); // both branches are listed: 128 + 128
    // peak: x 64 B + cond 1 B + If output 32 B, plus the branch's own 32 B output while it runs
    expect(cost.peakActivationBytes).toBe(64 + 1 + 32 + 32);
    expect(cost.peakAt).toBe('if/then_branch/mm_then');
  });
});

describe('shapes, dynamic dims and unknowns', () => {
  it('a dynamic batch dim: default 1, or the given input shape', () => {
    const { model, b } = setup();
    const x = b.input('x', f32(['N', 16]));
    b.op('MatMul', [x, b.weight('w', zeros('w', [16, 8]))], {}, { name: 'mm' });
    expect(layer(model, 'mm').macs).toBe(1 * 8 * 16); // N = 1 by default: 128
    expect(layer(model, 'mm', { inputShapes: { x: [4, 16] } }).macs).toBe(4 * 8 * 16); // 512
    expect(layer(model, 'mm', { defaultDim: 2 }).activationBytes).toBe(2 * 8 * 4); // 64
  });

  it('unknown shapes count what is known and say how many layers are incomplete', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 16]));
    const mystery = b.op('Mystery', [x], {}, { domain: 'com.example', name: 'mystery' });
    b.op('MatMul', [mystery, b.weight('w', zeros('w', [16, 8]))], {}, { name: 'after' });
    b.op('MatMul', [x, b.weight('w2', zeros('w2', [16, 4]))], {}, { name: 'known' });
    const cost = analyzeCost(model);
    expect(cost.unknownShapes).toBe(2); // mystery (its output) and after (its MACs and output)
    expect(cost.macs).toBe(16 * 4); // only the known MatMul: 64
    expect(cost.params).toBe(16 * 8 + 16 * 4); // weights never depend on shapes: 192
    expect(cost.layers.find((l) => l.name === 'after')).toMatchObject({ macs: 0, complete: false });
  });
});

describe('peak activation memory', () => {
  it('a residual chain, step by step', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 1000])); // 4000 B
    const a = b.op('Relu', [x], {}, { name: 'a' }); // 4000 B
    const down = b.op('MatMul', [a, b.weight('w1', zeros('w1', [1000, 250]))], {}, { name: 'down' }); // 1000 B
    const up = b.op('MatMul', [down, b.weight('w2', zeros('w2', [250, 1000]))], {}, { name: 'up' }); // 4000 B
    const sum = b.op('Add', [a, up], {}, { name: 'sum' }); // 4000 B
    b.output(b.op('Relu', [sum], {}, { name: 'out' })); // 4000 B
    // live bytes (weights excluded):  start x = 4000
    //   a:    + a 4000    = 8000   then x freed  -> 4000
    //   down: + 1000      = 5000   (a still needed by sum)
    //   up:   + 4000      = 9000   then down freed -> 8000
    //   sum:  + 4000      = 12000  <- peak; then a and up freed -> 4000
    //   out:  + 4000      = 8000   then sum freed -> 4000 (the output stays)
    const cost = analyzeCost(model);
    expect(cost.peakActivationBytes).toBe(12_000);
    expect(cost.peakAt).toBe('sum');
    expect(cost.layers.map((l) => l.activationBytes)).toEqual([4000, 1000, 4000, 4000, 4000]);
    expect(cost.macs).toBe(1000 * 250 + 250 * 1000);
  });

  it('a dead output is live only while its node runs', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([100])); // 400 B
    b.node('Dropout', [x], {}, { outputs: 2, name: 'drop' }); // 400 B output + 100 B mask, nobody reads them
    const y = b.output(b.op('Relu', [x], {}, { name: 'relu' })); // 400 B
    expect(y).toBeDefined();
    const cost = analyzeCost(model);
    // drop: 400 + 400 + 100 = 900 (peak), then output and mask are dead -> 400; relu: 400 + 400 = 800
    expect(cost.peakActivationBytes).toBe(900);
    expect(cost.peakAt).toBe('drop');
  });
});
