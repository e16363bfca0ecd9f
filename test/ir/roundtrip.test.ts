import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, newModel } from '../../src/ir/builder.js';
import { cloneModel } from '../../src/ir/clone.js';
import { decodeModel, encodeModel } from '../../src/ir/serialize.js';
import { Tensor } from '../../src/ir/tensor.js';
import { verifyModel } from '../../src/ir/verify.js';
import { DataType } from '../../src/onnx/dtype.js';
import {
  AttributeProto_AttributeType as AT,
  FunctionProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  SparseTensorProtoSchema,
  TensorProtoSchema,
  TrainingInfoProtoSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from '../../src/onnx/gen/onnx_pb.js';
import { canonicalModel, protosEquivalent } from '../corpus/backend.js';

const floatType = (dims: number[]) =>
  create(TypeProtoSchema, {
    value: {
      case: 'tensorType',
      value: {
        elemType: 1,
        shape: { dim: dims.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) },
      },
    },
  });

/** A model exercising every field a pass never looks at. */
function richModel(): Uint8Array {
  const typed = [
    create(TensorProtoSchema, { name: 'f32', dataType: DataType.FLOAT, dims: [2n], floatData: [1.5, -2] }),
    create(TensorProtoSchema, {
      name: 'f16',
      dataType: DataType.FLOAT16,
      dims: [2n],
      int32Data: [0x3c00, 0xc000],
    }),
    create(TensorProtoSchema, { name: 'bf16', dataType: DataType.BFLOAT16, dims: [1n], int32Data: [0x3fc0] }),
    create(TensorProtoSchema, { name: 'i8', dataType: DataType.INT8, dims: [3n], int32Data: [-1, 7, -128] }),
    create(TensorProtoSchema, { name: 'i4', dataType: DataType.INT4, dims: [3n], int32Data: [0x71, 0x0f] }),
    create(TensorProtoSchema, { name: 'u4', dataType: DataType.UINT4, dims: [2n], int32Data: [0xf3] }),
    create(TensorProtoSchema, {
      name: 'i64',
      dataType: DataType.INT64,
      dims: [2n],
      int64Data: [-5n, 9007199254740993n],
    }),
    create(TensorProtoSchema, { name: 'f64', dataType: DataType.DOUBLE, dims: [1n], doubleData: [Math.PI] }),
    create(TensorProtoSchema, {
      name: 'u64',
      dataType: DataType.UINT64,
      dims: [1n],
      uint64Data: [18446744073709551615n],
    }),
    create(TensorProtoSchema, {
      name: 'str',
      dataType: DataType.STRING,
      dims: [2n],
      stringData: [new Uint8Array([104, 105]), new Uint8Array([])],
    }),
    create(TensorProtoSchema, {
      name: 'raw',
      dataType: DataType.FLOAT,
      dims: [2, 2].map(BigInt),
      rawData: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer),
      docString: 'a weight',
    }),
  ];
  const thenGraph = create(GraphProtoSchema, {
    name: 'then',
    node: [create(NodeProtoSchema, { opType: 'Add', input: ['x', 'raw'], output: ['t_out'] })],
    output: [create(ValueInfoProtoSchema, { name: 't_out', type: floatType([2, 2]) })],
  });
  const elseGraph = create(GraphProtoSchema, {
    name: 'else',
    initializer: [
      create(TensorProtoSchema, { name: 'w_else', dataType: 1, dims: [2n, 2n], floatData: [9, 8, 7, 6] }),
    ],
    node: [create(NodeProtoSchema, { opType: 'Mul', input: ['x', 'w_else'], output: ['e_out'] })],
    output: [create(ValueInfoProtoSchema, { name: 'e_out', type: floatType([2, 2]) })],
  });
  const graph = create(GraphProtoSchema, {
    name: 'main',
    docString: 'graph doc',
    initializer: typed,
    sparseInitializer: [
      create(SparseTensorProtoSchema, {
        values: create(TensorProtoSchema, { name: 'sp', dataType: 1, dims: [2n], floatData: [1, 2] }),
        indices: create(TensorProtoSchema, { name: 'sp_idx', dataType: 7, dims: [2n], int64Data: [0n, 3n] }),
        dims: [4n],
      }),
    ],
    input: [
      create(ValueInfoProtoSchema, { name: 'x', type: floatType([2, 2]), docString: 'the input' }),
      create(ValueInfoProtoSchema, {
        name: 'cond',
        type: create(TypeProtoSchema, {
          value: { case: 'tensorType', value: { elemType: 9, shape: { dim: [] } } },
        }),
      }),
    ],
    node: [
      create(NodeProtoSchema, {
        name: 'branch',
        opType: 'If',
        input: ['cond'],
        output: ['y'],
        docString: 'node doc',
        attribute: [
          { name: 'then_branch', type: AT.GRAPH, g: thenGraph },
          { name: 'else_branch', type: AT.GRAPH, g: elseGraph },
        ],
        metadataProps: [{ key: 'k', value: 'v' }],
      }),
      create(NodeProtoSchema, {
        name: 'c',
        opType: 'Constant',
        output: ['cw'],
        attribute: [
          {
            name: 'value',
            type: AT.TENSOR,
            t: create(TensorProtoSchema, { dataType: 1, dims: [1n], floatData: [0.25] }),
          },
        ],
      }),
      create(NodeProtoSchema, {
        name: 'custom',
        opType: 'MyOp',
        domain: 'my.domain',
        input: ['y', 'cw'],
        output: ['z'],
        attribute: [
          { name: 'f', type: AT.FLOAT, f: 0.5 },
          { name: 'ints', type: AT.INTS, ints: [1n, -9223372036854775807n] },
          { name: 'strs', type: AT.STRINGS, strings: [new Uint8Array([97])] },
          { name: 'tp', type: AT.TYPE_PROTO, tp: floatType([3]) },
        ],
      }),
    ],
    output: [create(ValueInfoProtoSchema, { name: 'z', type: floatType([2, 2]) })],
    valueInfo: [create(ValueInfoProtoSchema, { name: 'y', type: floatType([2, 2]), docString: 'vi doc' })],
    quantizationAnnotation: [
      { tensorName: 'y', quantParameterTensorNames: [{ key: 'SCALE_TENSOR', value: 's' }] },
    ],
    metadataProps: [{ key: 'gk', value: 'gv' }],
  });
  const model = create(ModelProtoSchema, {
    irVersion: 10n,
    producerName: 'test',
    producerVersion: '1',
    domain: 'ai.test',
    modelVersion: 3n,
    docString: 'model doc',
    opsetImport: [
      { domain: '', version: 21n },
      { domain: 'my.domain', version: 1n },
    ],
    graph,
    metadataProps: [{ key: 'author', value: 'edgefit' }],
    functions: [
      create(FunctionProtoSchema, {
        name: 'MyOp',
        domain: 'my.domain',
        input: ['a', 'b'],
        output: ['c'],
        node: [create(NodeProtoSchema, { opType: 'Mul', input: ['a', 'b'], output: ['c'] })],
        opsetImport: [{ domain: '', version: 21n }],
      }),
    ],
    trainingInfo: [create(TrainingInfoProtoSchema, { initializationBinding: [{ key: 'a', value: 'b' }] })],
  });
  const bytes = toBinary(ModelProtoSchema, model);
  // an unknown field (number 999, varint 42) on the model: must survive the round trip
  return new Uint8Array([...bytes, 0xb8, 0x3e, 42]);
}

describe('decode/encode round trip', () => {
  it('keeps every field, including those no pass understands', () => {
    const original = richModel();
    const model = decodeModel(original);
    expect(verifyModel(model)).toEqual([]);
    const encoded = encodeModel(model);
    expect(protosEquivalent(original, encoded)).toBe(true);
    const back = fromBinary(ModelProtoSchema, encoded);
    expect(back.metadataProps[0]).toMatchObject({ key: 'author', value: 'edgefit' });
    expect(back.functions[0]!.name).toBe('MyOp');
    expect(back.trainingInfo[0]!.initializationBinding[0]!.value).toBe('b');
    expect(back.graph!.sparseInitializer[0]!.dims).toEqual([4n]);
    expect(back.graph!.valueInfo[0]!.docString).toBe('vi doc');
    expect(back.graph!.node[0]!.metadataProps[0]!.value).toBe('v');
    const custom = back.graph!.node[2]!;
    expect(custom.attribute.map((a) => a.name)).toEqual(['f', 'ints', 'strs', 'tp']);
    expect(custom.attribute[1]!.ints[1]).toBe(-9223372036854775807n);
    expect(custom.attribute[3]!.tp?.value.case).toBe('tensorType');
    const unknown = (back as { $unknown?: { no: number }[] }).$unknown;
    expect(unknown?.map((f) => f.no)).toEqual([999]);
    // idempotent: a second round trip gives the same bytes
    expect(encodeModel(decodeModel(encoded))).toEqual(encoded);
  });

  it('decodes every typed storage form to the right values', () => {
    const model = decodeModel(richModel());
    const t = new Map(model.graph.initializers.map((v) => [v.name, v.initializer!]));
    expect(Array.from(t.get('f32')!.toFloat32())).toEqual([1.5, -2]);
    expect(Array.from(t.get('f16')!.toFloat32())).toEqual([1, -2]);
    expect(Array.from(t.get('bf16')!.toFloat32())).toEqual([1.5]);
    expect(Array.from(t.get('i8')!.toFloat32())).toEqual([-1, 7, -128]);
    // int4 packs two per byte, low nibble first: 0x71 -> 1, 7; 0x0f -> -1
    expect(Array.from(t.get('i4')!.toFloat32())).toEqual([1, 7, -1]);
    expect(Array.from(t.get('u4')!.toFloat32())).toEqual([3, 15]);
    expect(Array.from(t.get('i64')!.typed() as BigInt64Array)).toEqual([-5n, 9007199254740993n]);
    expect(Array.from(t.get('f64')!.toFloat32())).toEqual([Math.fround(Math.PI)]);
    expect(Array.from(t.get('u64')!.typed() as BigUint64Array)).toEqual([18446744073709551615n]);
    expect(t.get('str')!.strings.map((s) => s.length)).toEqual([2, 0]);
    expect(t.get('raw')!.extras.docString).toBe('a weight');
  });

  it('makes Constant and subgraph weights first-class IR tensors', () => {
    const model = decodeModel(richModel());
    const ifNode = model.graph.nodes[0]!;
    const elseGraph = ifNode.attributes.get('else_branch')!.g!;
    expect(elseGraph.initializers[0]!.initializer!.toFloat32()).toEqual(new Float32Array([9, 8, 7, 6]));
    // the then-branch reads the outer input x and the outer weight raw: uses are recorded on them
    const raw = model.graph.initializers.find((v) => v.name === 'raw')!;
    expect(raw.uses.map((u) => u.node.opType)).toEqual(['Add']);
    const constant = model.graph.nodes[1]!.attributes.get('value')!.t!;
    expect(constant.toFloat32()).toEqual(new Float32Array([0.25]));
    // editing a subgraph weight is saved
    elseGraph.initializers[0]!.initializer!.setData(new Uint8Array(new Float32Array([1, 1, 1, 1]).buffer));
    const again = decodeModel(encodeModel(model));
    const w = again.graph.nodes[0]!.attributes.get('else_branch')!.g!.initializers[0]!.initializer!;
    expect(Array.from(w.toFloat32())).toEqual([1, 1, 1, 1]);
  });

  it('canonical form treats typed and raw storage of the same values as equal', () => {
    const a = canonicalModel(richModel());
    expect(a.graph!.initializer[0]!.rawData.length).toBe(8);
  });
});

describe('verifier', () => {
  function chain() {
    const m = newModel();
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 4] });
    const r = b.op('Relu', [x]);
    const s = b.op('Sigmoid', [r]);
    b.output(s);
    return m;
  }

  it('accepts a valid graph and reports a cycle', () => {
    const m = chain();
    expect(verifyModel(m)).toEqual([]);
    const [relu, sig] = m.graph.nodes;
    relu!.setInput(0, sig!.outputs[0]);
    expect(verifyModel(m).join()).toMatch(/cycle/);
  });

  it('reports out-of-order nodes, removed producers and missing opsets', () => {
    const m = chain();
    m.graph.nodes.reverse();
    expect(verifyModel(m).join()).toMatch(/topological order/);
    m.graph.nodes.reverse();
    m.graph.nodes.shift(); // drop Relu without detaching
    expect(verifyModel(m).join()).toMatch(/producer was removed/);
    const m2 = chain();
    m2.graph.nodes[0]!.domain = 'com.microsoft';
    expect(verifyModel(m2).join()).toMatch(/imports no opset for it/);
  });

  it('rejects a duplicate definition', () => {
    const m = chain();
    m.graph.nodes[1]!.outputs[0]!.name = m.graph.nodes[0]!.outputs[0]!.name;
    expect(verifyModel(m).join()).toMatch(/defined twice/);
  });
});

describe('clone', () => {
  it('shares weight bytes until one side writes', () => {
    const m = newModel();
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', { elemType: 1, shape: [1, 2] });
    const w = b.weight('w', Tensor.fromFloat32('w', [2, 2], [1, 2, 3, 4]));
    b.output(b.op('MatMul', [x, w]));
    const c = cloneModel(m);
    const cw = c.graph.initializers[0]!.initializer!;
    expect(cw.bytes()).toBe(w.initializer!.bytes()); // same buffer
    cw.setData(new Uint8Array(new Float32Array([0, 0, 0, 0]).buffer));
    expect(Array.from(w.initializer!.toFloat32())).toEqual([1, 2, 3, 4]);
    expect(Array.from(cw.toFloat32())).toEqual([0, 0, 0, 0]);
    expect(verifyModel(c)).toEqual([]);
    expect(c.graph.nodes[0]!.inputs[1]).toBe(c.graph.initializers[0]);
    expect(encodeModel(cloneModel(m))).toEqual(encodeModel(m));
  });
});
