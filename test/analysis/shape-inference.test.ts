// Shape inference: tiny hand-built graphs with the arithmetic in comments, then ONNX's own backend
// node tests as the oracle (each model declares its output shapes; we clear them and infer them back).

import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inferShapes } from '../../src/analysis/index.js';
import { EdgefitError } from '../../src/errors.js';
import { GraphBuilder, newModel } from '../../src/ir/builder.js';
import { type Dim, Graph, type Model, type TensorType, type Value } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { loadModel } from '../../src/node/model-io.js';
import { DataType } from '../../src/onnx/dtype.js';

const FLOAT = DataType.FLOAT;
const f32 = (shape: Dim[]): TensorType => ({ elemType: FLOAT, shape });

function zeros(name: string, dims: number[]): Tensor {
  return Tensor.fromFloat32(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));
}

function setup(opset = 17): { model: Model; b: GraphBuilder } {
  const model = newModel({ '': opset });
  return { model, b: new GraphBuilder(model.graph) };
}

function shapeOf(model: Model, v: Value, options: Parameters<typeof inferShapes>[1] = {}): Dim[] | undefined {
  return inferShapes(model, options).types.get(v)?.shape;
}

describe('convolution and pooling', () => {
  it('grouped Conv, stride 2, pad 1', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 8, 32, 32]));
    const w = b.weight('w', zeros('w', [16, 2, 3, 3])); // 8 channels / group 4 = 2 per group
    const y = b.op('Conv', [x, w], { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] });
    // floor((32 + 1 + 1 - 3) / 2) + 1 = floor(31 / 2) + 1 = 16
    expect(shapeOf(model, y)).toEqual([1, 16, 16, 16]);
  });

  it('dilated Conv, kernel from the weights', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 4, 16, 16]));
    const w = b.weight('w', zeros('w', [8, 4, 3, 3]));
    const y = b.op('Conv', [x, w], { dilations: [2, 2] });
    // effective kernel (3 - 1)·2 + 1 = 5; 16 - 5 + 1 = 12
    expect(shapeOf(model, y)).toEqual([1, 8, 12, 12]);
  });

  it('auto_pad SAME_UPPER, VALID, and a 1-D Conv', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 3, 224, 224]));
    const w = b.weight('w', zeros('w', [32, 3, 3, 3]));
    const same = b.op('Conv', [x, w], { strides: [2, 2], auto_pad: 'SAME_UPPER' }); // ceil(224 / 2) = 112
    const valid = b.op('Conv', [x, w], { strides: [2, 2], auto_pad: 'VALID' }); // floor((224 - 3) / 2) + 1 = 111
    const x1 = b.input('x1', f32([2, 4, 100]));
    const w1 = b.weight('w1', zeros('w1', [6, 4, 5]));
    const conv1 = b.op('Conv', [x1, w1], { strides: [3] }); // floor((100 - 5) / 3) + 1 = 32
    const types = inferShapes(model).types;
    expect(types.get(same)?.shape).toEqual([1, 32, 112, 112]);
    expect(types.get(valid)?.shape).toEqual([1, 32, 111, 111]);
    expect(types.get(conv1)?.shape).toEqual([2, 6, 32]);
  });

  it('ConvTranspose: stride 2, pads, output_padding, group', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 16, 8, 8]));
    const w = b.weight('w', zeros('w', [16, 4, 3, 3])); // [InC, OutC / group, kH, kW]
    const y = b.op('ConvTranspose', [x, w], {
      strides: [2, 2],
      pads: [1, 1, 1, 1],
      output_padding: [1, 1],
      group: 2,
    });
    // 2·(8 - 1) + 1 + ((3 - 1)·1 + 1) - 1 - 1 = 14 + 1 + 3 - 2 = 16; channels 4·2 = 8
    const fixed = b.op('ConvTranspose', [x, w], { strides: [2, 2], output_shape: [20, 21] });
    const types = inferShapes(model).types;
    expect(types.get(y)?.shape).toEqual([1, 8, 16, 16]);
    expect(types.get(fixed)?.shape).toEqual([1, 4, 20, 21]);
  });

  it('MaxPool with ceil_mode, global pooling', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 3, 32, 32]));
    const floor = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] }); // floor(29 / 2) + 1 = 15
    const ceil = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }); // ceil(29 / 2) + 1 = 16
    const gap = b.op('GlobalAveragePool', [x]);
    const types = inferShapes(model).types;
    expect(types.get(floor)?.shape).toEqual([1, 3, 15, 15]);
    expect(types.get(ceil)?.shape).toEqual([1, 3, 16, 16]);
    expect(types.get(gap)?.shape).toEqual([1, 3, 1, 1]);
  });
});

describe('matrix products', () => {
  it('Gemm with transB, batched and 1-D MatMul', () => {
    const { model, b } = setup();
    const a = b.input('a', f32([4, 64]));
    const w = b.weight('w', zeros('w', [32, 64]));
    const gemm = b.op('Gemm', [a, w], { transB: 1 });
    const x = b.input('x', f32([2, 3, 4, 5]));
    const batched = b.op('MatMul', [x, b.weight('m', zeros('m', [5, 6]))]);
    const q = b.input('q', f32([1, 4, 8, 16]));
    const k = b.input('k', f32([1, 4, 16, 8]));
    const scores = b.op('MatMul', [q, k]);
    const v = b.input('v', f32([5]));
    const vecMat = b.op('MatMul', [v, b.weight('m2', zeros('m2', [5, 6]))]); // [5]·[5,6] -> [6]
    const matVec = b.op('MatMul', [x, b.weight('m3', zeros('m3', [5]))]); // [2,3,4,5]·[5] -> [2,3,4]
    const types = inferShapes(model).types;
    expect(types.get(gemm)?.shape).toEqual([4, 32]);
    expect(types.get(batched)?.shape).toEqual([2, 3, 4, 6]);
    expect(types.get(scores)?.shape).toEqual([1, 4, 8, 8]);
    expect(types.get(vecMat)?.shape).toEqual([6]);
    expect(types.get(matVec)?.shape).toEqual([2, 3, 4]);
  });
});

describe('constant propagation and dynamic dims', () => {
  /** x: [N, 3, 4, 4] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) */
  function flattenChain(): { model: Model; y: Value; dims: Value } {
    const { model, b } = setup();
    const x = b.input('x', f32(['N', 3, 4, 4]));
    const shape = b.op('Shape', [x]);
    const batch = b.op('Gather', [shape, b.weight('zero', Tensor.fromInt64('zero', [], [0]))], { axis: 0 });
    const batch1 = b.op('Unsqueeze', [batch, b.weight('axes', Tensor.fromInt64('axes', [1], [0]))]);
    const minusOne = b.op('Constant', [], { value: Tensor.fromInt64('m1', [1], [-1]) });
    const dims = b.op('Concat', [batch1, minusOne], { axis: 0 });
    const y = b.output(b.op('Reshape', [x, dims]));
    return { model, y, dims };
  }

  it('Shape → Gather → Concat → Reshape resolves to a static shape', () => {
    const { model, y, dims } = flattenChain();
    const r = inferShapes(model); // N = 1 by default; -1 = 1·3·4·4 / 1 = 48
    expect(r.types.get(y)?.shape).toEqual([1, 48]);
    expect(r.constants.get(dims)?.values).toEqual([1, -1]);
    expect(r.missing).toEqual([]);
    expect(shapeOf(model, y, { inputShapes: { x: [8, 3, 4, 4] } })).toEqual([8, 48]);
    expect(shapeOf(model, y, { defaultDim: 4 })).toEqual([4, 48]);
    // kept symbolic: the symbol flows through Shape/Gather/Concat into the Reshape
    expect(shapeOf(model, y, { defaultDim: null })).toEqual(['N', 48]);
  });

  it('the declared input type is never changed, and bad input shapes are refused', () => {
    const { model } = flattenChain();
    inferShapes(model, { inputShapes: { x: [8, 3, 4, 4] }, write: true });
    expect(model.graph.inputs[0]!.type?.shape).toEqual(['N', 3, 4, 4]);
    expect(() => inferShapes(model, { inputShapes: { y: [1] } })).toThrow(EdgefitError);
    expect(() => inferShapes(model, { inputShapes: { x: [8, 3, 4] } })).toThrow(/rank 4/);
    expect(() => inferShapes(model, { inputShapes: { x: [8, 3, 5, 4] } })).toThrow(/fixed dim 2/);
  });

  it('a symbol bound by one input holds for the others', () => {
    const { model, b } = setup();
    const a = b.input('a', f32(['batch', 10]));
    const c = b.input('c', f32(['batch', 10]));
    const y = b.op('Add', [a, c]);
    expect(shapeOf(model, y, { inputShapes: { a: [6, 10] } })).toEqual([6, 10]);
  });

  it('Slice, Split, Squeeze/Unsqueeze, Transpose, Expand, Tile, Pad, Resize with constant inputs', () => {
    const { model, b } = setup();
    const ints = (name: string, v: number[]) => b.weight(name, Tensor.fromInt64(name, [v.length], v));
    const x = b.input('x', f32([2, 10, 6]));
    // axis 1: start -3 -> 7, end 2^62 -> clamped 10, step 1 => 3; axis 2: 5..0 step -2 => 5, 3, 1
    const sliced = b.op('Slice', [
      x,
      ints('s', [-3, 5]),
      ints('e', [2 ** 62, 0]),
      ints('a', [1, -1]),
      ints('st', [1, -2]),
    ]);
    const parts = b.node('Split', [x, ints('sp', [4, 6])], { axis: 1 }, { outputs: 2 }).outputs;
    const even = b.node('Split', [x], { axis: 2, num_outputs: 4 }, { outputs: 4 }).outputs; // ceil(6/4)=2: 2,2,2,0
    const un = b.op('Unsqueeze', [x, ints('ua', [0, -1])]); // [1, 2, 10, 6, 1]
    const sq = b.op('Squeeze', [un]); // drops every 1
    const tr = b.op('Transpose', [x], { perm: [2, 0, 1] });
    const ex = b.op('Expand', [b.input('e1', f32([3, 1])), ints('es', [2, 1, 4])]); // [2, 3, 4]
    const ti = b.op('Tile', [x, ints('rep', [1, 2, 3])]);
    const pad = b.op('Pad', [x, ints('pads', [0, 1, 2, 0, 3, 4])]); // [2, 1+10+3, 2+6+4]
    const img = b.input('img', f32([1, 3, 20, 30]));
    const none = b.op('Constant', [], { value_floats: [] }, { floatAttrs: ['value_floats'] });
    const up = b.op('Resize', [img, undefined, b.weight('sc', Tensor.fromFloat32('sc', [4], [1, 1, 2, 2]))]);
    const scales = b.weight('sc2', Tensor.fromFloat32('sc2', [4], [1, 1, 1.5, 0.5]));
    const re = b.op('Resize', [img, none, scales]); // floor(20·1.5) = 30, floor(30·0.5) = 15
    const sized = b.op('Resize', [img, undefined, undefined, ints('sz', [1, 3, 64, 64])]);
    const types = inferShapes(model).types;
    expect(types.get(sliced)?.shape).toEqual([2, 3, 3]);
    expect(parts.map((v) => types.get(v)?.shape)).toEqual([
      [2, 4, 6],
      [2, 6, 6],
    ]);
    expect(even.map((v) => types.get(v)?.shape?.[2])).toEqual([2, 2, 2, 0]);
    expect(types.get(un)?.shape).toEqual([1, 2, 10, 6, 1]);
    expect(types.get(sq)?.shape).toEqual([2, 10, 6]);
    expect(types.get(tr)?.shape).toEqual([6, 2, 10]);
    expect(types.get(ex)?.shape).toEqual([2, 3, 4]);
    expect(types.get(ti)?.shape).toEqual([2, 20, 18]);
    expect(types.get(pad)?.shape).toEqual([2, 14, 12]);
    expect(types.get(up)?.shape).toEqual([1, 3, 40, 60]);
    expect(types.get(re)?.shape).toEqual([1, 3, 30, 15]);
    expect(types.get(sized)?.shape).toEqual([1, 3, 64, 64]);
  });

  it('Squeeze/Unsqueeze: attribute form before opset 13', () => {
    const { model, b } = setup(11);
    const x = b.input('x', f32([3, 1, 5]));
    const sq = b.op('Squeeze', [x], { axes: [1] });
    const un = b.op('Unsqueeze', [sq], { axes: [0, 3] });
    const types = inferShapes(model).types;
    expect(types.get(sq)?.shape).toEqual([3, 5]);
    expect(types.get(un)?.shape).toEqual([1, 3, 5, 1]);
  });

  it('reductions, ArgMax, TopK, Range, ConstantOfShape, Cast, Constant forms', () => {
    const { model, b } = setup(18);
    const x = b.input('x', f32([2, 3, 4]));
    const axes = b.weight('axes', Tensor.fromInt64('axes', [1], [-1]));
    const mean = b.op('ReduceMean', [x, axes]); // keepdims: [2, 3, 1]
    const sum = b.op('ReduceSum', [x], { keepdims: 0 }); // all axes: []
    const noop = b.op('ReduceMax', [x], { noop_with_empty_axes: 1 });
    const arg = b.op('ArgMax', [x], { axis: 1, keepdims: 0 });
    const topk = b.node(
      'TopK',
      [x, b.weight('k', Tensor.fromInt64('k', [1], [2]))],
      {},
      { outputs: 2 },
    ).outputs;
    const start = b.op('Constant', [], { value_int: 2 });
    const range = b.op('Range', [
      start,
      b.op('Constant', [], { value_int: 11 }),
      b.op('Constant', [], { value_int: 3 }),
    ]);
    const filled = b.op('ConstantOfShape', [b.op('Shape', [x])], { value: Tensor.fromInt64('v', [1], [7]) });
    const cast = b.op('Cast', [x], { to: DataType.FLOAT16 });
    const r = inferShapes(model);
    expect(r.types.get(mean)?.shape).toEqual([2, 3, 1]);
    expect(r.types.get(sum)?.shape).toEqual([]);
    expect(r.types.get(noop)?.shape).toEqual([2, 3, 4]);
    expect(r.types.get(arg)).toEqual({ elemType: DataType.INT64, shape: [2, 4] });
    expect(topk.map((v) => r.types.get(v))).toEqual([
      { elemType: FLOAT, shape: [2, 3, 2] },
      { elemType: DataType.INT64, shape: [2, 3, 2] },
    ]);
    expect(r.constants.get(range)?.values).toEqual([2, 5, 8]); // ceil((11 - 2) / 3) = 3 values
    expect(r.types.get(filled)).toEqual({ elemType: DataType.INT64, shape: [2, 3, 4] });
    expect(r.types.get(cast)).toEqual({ elemType: DataType.FLOAT16, shape: [2, 3, 4] });
  });
});

describe('subgraphs', () => {
  function branch(model: Model, build: (g: GraphBuilder) => Value): Graph {
    const g = new GraphBuilder(new Graph(model));
    g.output(build(g));
    return g.graph;
  }

  it('If: branches agreeing keep their dims, disagreeing dims become unknown', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 16]));
    const cond = b.input('cond', { elemType: DataType.BOOL, shape: [] });
    const thenG = branch(model, (g) => g.op('MatMul', [x, g.weight('wt', zeros('wt', [16, 8]))]));
    const elseG = branch(model, (g) => g.op('MatMul', [x, g.weight('we', zeros('we', [16, 4]))]));
    const sameG = branch(model, (g) => g.op('Relu', [x]));
    const same2G = branch(model, (g) => g.op('Sigmoid', [x]));
    const y = b.op('If', [cond], { then_branch: thenG, else_branch: elseG });
    const z = b.op('If', [cond], { then_branch: sameG, else_branch: same2G });
    const r = inferShapes(model);
    expect(r.types.get(y)?.shape).toEqual([1, null]);
    expect(r.types.get(z)?.shape).toEqual([1, 16]);
    expect(r.types.get(thenG.outputs[0]!)?.shape).toEqual([1, 8]);
    expect(r.missing).toEqual([y]);
  });

  it('Loop: carried values and scan outputs stacked by the trip count', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([1, 4]));
    const body = new GraphBuilder(new Graph(model));
    body.input('i', { elemType: DataType.INT64, shape: [] });
    const condIn = body.input('c', { elemType: DataType.BOOL, shape: [] });
    const acc = body.input('acc', { elemType: FLOAT, shape: undefined }); // body leaves the type open
    body.output(body.op('Identity', [condIn]));
    const next = body.op('MatMul', [acc, body.weight('w', zeros('w', [4, 4]))]);
    body.output(next);
    body.output(body.op('Relu', [next]));
    const trips = b.weight('M', Tensor.fromInt64('M', [], [5]));
    const yes = b.weight('T', Tensor.fromTyped('T', DataType.BOOL, [], new Uint8Array([1])));
    const loop = b.node('Loop', [trips, yes, x], { body: body.graph }, { outputs: 2 });
    const r = inferShapes(model);
    expect(r.types.get(loop.outputs[0]!)?.shape).toEqual([1, 4]);
    expect(r.types.get(loop.outputs[1]!)?.shape).toEqual([5, 1, 4]);
    expect(r.types.get(next)?.shape).toEqual([1, 4]);
  });
});

describe('writing types', () => {
  it('fills unknown types, never replaces a known dim, leaves graph inputs alone', () => {
    const { model, b } = setup();
    const x = b.input('x', f32(['N', 8]));
    const y = b.op('Relu', [x]);
    const z = b.op('Relu', [y]);
    z.setType(f32([7, null])); // a (wrong) declared 7 must survive
    inferShapes(model, { write: true, defaultDim: null });
    expect(y.type).toEqual(f32(['N', 8]));
    expect(z.type).toEqual(f32([7, 8]));
    expect(x.type).toEqual(f32(['N', 8]));
  });

  it('without write, the model is untouched', () => {
    const { model, b } = setup();
    const y = b.op('Relu', [b.input('x', f32([2, 2]))]);
    inferShapes(model);
    expect(y.type).toBeUndefined();
  });
});

describe('robustness and speed', () => {
  it('odd models: unknown ops, absurd dims, missing inputs', () => {
    const { model, b } = setup();
    const x = b.input('x', f32([2 ** 40, 2 ** 40]));
    const big = b.op('ConstantOfShape', [b.op('Shape', [x])]); // 2^80 elements: typed, never materialized
    const custom = b.op('MysteryOp', [x], {}, { domain: 'com.example' });
    const after = b.op('Relu', [custom]);
    const broken = b.op('Conv', [undefined, undefined]);
    const r = inferShapes(model);
    expect(r.types.get(big)?.shape).toEqual([2 ** 40, 2 ** 40]);
    expect(r.constants.has(big)).toBe(false);
    expect(r.missing).toEqual([custom, after, broken]);
    expect(r.errors).toEqual([]);
  });

  it('10k nodes: every shape through a long Shape/Reshape chain (speed lives in bench/, not here)', () => {
    const { model, b } = setup();
    let v = b.input('x', f32(['batch', 64]));
    const w = b.weight('w', zeros('w', [64, 64]));
    for (let i = 0; i < 2500; i++) {
      const m = b.op('MatMul', [v, w]);
      const s = b.op('Shape', [m]);
      const r = b.op('Reshape', [m, s]);
      v = b.op('Relu', [r]);
    }
    b.output(v);
    const r = inferShapes(model);
    expect(model.graph.nodes.length).toBe(10_000);
    expect(r.types.get(v)?.shape).toEqual([1, 64]);
    expect(r.missing).toEqual([]);
  });
});

const NODE_TESTS = '/usr/share/libonnx-testdata/data/node';

describe('ONNX backend node tests (Debian libonnx-testdata)', () => {
  it.skipIf(!existsSync(NODE_TESTS))(
    'infers the declared static output shapes of ≥ 85% of the models',
    () => {
      let compared = 0;
      let matched = 0;
      const differ: string[] = [];
      for (const dir of readdirSync(NODE_TESTS).sort()) {
        const model = loadModel(`${NODE_TESTS}/${dir}/model.onnx`);
        // every model is inferred (no exception may escape); only fully static declarations are compared
        const outputs = model.graph.outputs;
        const declared = outputs.map((v) => v.type);
        const comparable = declared.every((t) => t?.shape?.every((d) => typeof d === 'number'));
        for (const v of outputs) if (v.producer) v.type = undefined;
        const r = inferShapes(model);
        expect(r.errors).toEqual([]);
        if (!comparable) continue;
        compared++;
        const same = outputs.every((v, i) => {
          const got = r.types.get(v);
          return (
            got?.elemType === declared[i]!.elemType &&
            JSON.stringify(got.shape) === JSON.stringify(declared[i]!.shape)
          );
        });
        if (same) matched++;
        else differ.push(dir);
        // an inferred dim is never wrong: it is either the declared one or unknown
        outputs.forEach((v, i) => {
          const got = r.types.get(v)?.shape;
          if (got)
            expect(
              got.every((d, j) => d === null || d === declared[i]!.shape![j]),
              dir,
            ).toBe(true);
        });
      }
      console.log(
        `shape inference: ${matched} / ${compared} backend node models match their declared outputs`,
      );
      expect(compared).toBeGreaterThan(800);
      expect(matched / compared).toBeGreaterThanOrEqual(0.85);
    },
  );
});
