// Hostile inputs built from bytes: models with malformed parts (protobuf built by hand, so anything
// the IR would refuse to build can be written), .npz bombs and huge graphs. Shared by the hostile
// tests (test/hostile/) and bench/hostile.ts.

import { writeFileSync } from 'node:fs';
import { deflateRawSync, constants as zlib } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from '../../src/onnx/gen/onnx_pb.js';
import { concatChunks, lengthDelimitedHeader } from '../../src/onnx/wire.js';

/** A float tensor value info; a dim is a number (dim_value), a string (dim_param) or null (unknown). */
export function valueInfo(
  name: string,
  dims: (number | string | null)[] | undefined,
  elemType = 1,
): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: 'tensorType',
        value: {
          elemType,
          ...(dims
            ? {
                shape: {
                  dim: dims.map((d) =>
                    typeof d === 'number'
                      ? { value: { case: 'dimValue' as const, value: BigInt(d) } }
                      : typeof d === 'string'
                        ? { value: { case: 'dimParam' as const, value: d } }
                        : {},
                  ),
                },
              }
            : {}),
        },
      },
    },
  });
}

export interface GraphParts {
  inputs?: ValueInfoProto[];
  outputs?: ValueInfoProto[];
  nodes?: { op: string; inputs: string[]; outputs: string[]; name?: string }[];
  initializers?: Parameters<typeof create<typeof TensorProtoSchema>>[1][];
  opset?: number;
}

/** A model from parts; by default x[1,4] -> Relu -> y[1,4]. */
export function modelProto(parts: GraphParts = {}): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: 8n,
    opsetImport: [{ domain: '', version: BigInt(parts.opset ?? 17) }],
    producerName: 'edgefit-hostile',
    graph: create(GraphProtoSchema, {
      name: 'g',
      input: parts.inputs ?? [valueInfo('x', [1, 4])],
      output: parts.outputs ?? [valueInfo('y', [1, 4])],
      initializer: (parts.initializers ?? []).map((t) => create(TensorProtoSchema, t)),
      node: (parts.nodes ?? [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }]).map((n) =>
        create(NodeProtoSchema, { opType: n.op, input: n.inputs, output: n.outputs, name: n.name ?? '' }),
      ),
    }),
  });
}

export function modelBytes(parts: GraphParts = {}): Uint8Array {
  return toBinary(ModelProtoSchema, modelProto(parts));
}

/**
 * x -> Relu -> Relu -> ... (n nodes) -> y, node names `/stage/layer_<i>/Relu`. The nodes are written
 * straight into one buffer (a million in about a second; protobuf-es takes many).
 */
export function chainModel(n: number): Uint8Array {
  const buf = new Uint8Array(64 * n + 1024);
  let at = 0;
  const varint = (v: number) => {
    while (v >= 128) {
      buf[at++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[at++] = v;
  };
  const ascii = (no: number, text: string) => {
    buf[at++] = (no << 3) | 2;
    varint(text.length);
    for (let i = 0; i < text.length; i++) buf[at++] = text.charCodeAt(i);
  };
  const text = (i: number) => [
    i === 0 ? 'x' : `t${i - 1}`,
    i === n - 1 ? 'y' : `t${i}`,
    `/stage/layer_${i}/Relu`,
    'Relu',
  ];
  for (let i = 0; i < n; i++) {
    const t = text(i);
    const len = t.reduce((s, x) => s + 2 + x.length, 0); // every string here is < 128 bytes
    buf[at++] = (1 << 3) | 2; // GraphProto.node
    varint(len);
    for (let k = 0; k < t.length; k++) ascii(k + 1, t[k]!);
  }
  const shell = modelProto({ nodes: [] });
  const graphHead = toBinary(GraphProtoSchema, shell.graph!);
  shell.graph = undefined;
  const graph = concatChunks([graphHead, buf.subarray(0, at)]);
  return concatChunks([toBinary(ModelProtoSchema, shell), lengthDelimitedHeader(7, graph.length), graph]);
}

/**
 * x [1,4] -> MatMul(W) -> ... (n MatMuls sharing one 4x4 weight) -> y, every node named `aaa…a_<i>`
 * (`nameLength` a's): names a backtracking glob such as a*a*a*a*a*a*a*a*b never ends on.
 */
export function longNameModel(n: number, nameLength: number): Uint8Array {
  const pad = 'a'.repeat(nameLength);
  const w = new Float32Array(16).map((_, i) => (i % 5 === 0 ? 1 : 0.01));
  const nodes = Array.from({ length: n }, (_, i) => ({
    op: 'MatMul',
    name: `${pad}_${i}`,
    inputs: [i === 0 ? 'x' : `t${i - 1}`, 'W'],
    outputs: [i === n - 1 ? 'y' : `t${i}`],
  }));
  const initializers = [{ name: 'W', dataType: 1, dims: [4n, 4n], rawData: new Uint8Array(w.buffer) }];
  return modelBytes({ nodes, initializers });
}

// --- .npz bombs

const u16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** A .npy header (version 1) for a float32 array of `shape`. */
export function npyHeader(shape: number[], descr = '<f4'): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  dict += `${' '.repeat(pad % 64)}\n`;
  const out = new Uint8Array(10 + dict.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, ...u16(dict.length)]);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}

/** A zip archive of one deflated entry, with the sizes its headers declare. */
function zipOne(name: string, deflated: Uint8Array[], declared: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const csize = deflated.reduce((s, c) => s + c.length, 0);
  const local = [...u32(0x04034b50), ...u16(20), ...u16(0), ...u16(8), ...u32(0), ...u32(0)];
  local.push(...u32(csize), ...u32(declared), ...u16(nameBytes.length), ...u16(0));
  const head = Uint8Array.from([...local, ...nameBytes]);
  const central = [...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(0), ...u16(8), ...u32(0), ...u32(0)];
  central.push(...u32(csize), ...u32(declared), ...u16(nameBytes.length), ...u16(0), ...u16(0));
  central.push(...u16(0), ...u16(0), ...u32(0), ...u32(0));
  const dir = Uint8Array.from([...central, ...nameBytes]);
  const dirOffset = head.length + csize;
  const end = Uint8Array.from([
    ...u32(0x06054b50),
    ...u16(0),
    ...u16(0),
    ...u16(1),
    ...u16(1),
    ...u32(dir.length),
    ...u32(dirOffset),
    ...u16(0),
  ]);
  return Buffer.concat([head, ...deflated, dir, end]);
}

/**
 * A .npz bomb: one entry `name.npy` whose .npy header declares a float32 array of `shape`, followed
 * by zeros — `streamBytes` in all (default: what the header needs) — deflated in 64 MiB pieces (a
 * few MB of file for gigabytes of data; nothing that size is ever in memory). `declare` sets the size
 * the zip headers claim (default: `streamBytes`). Returns the file's size.
 */
export function npzBomb(
  file: string,
  name: string,
  shape: number[],
  options: { streamBytes?: number; declare?: number } = {},
): number {
  const header = npyHeader(shape);
  const total = options.streamBytes ?? header.length + shape.reduce((a, b) => a * b, 1) * 4;
  const PIECE = 64 << 20;
  const sync = { finishFlush: zlib.Z_SYNC_FLUSH };
  const parts: Uint8Array[] = [];
  const first = Buffer.alloc(Math.min(PIECE, total));
  first.set(header);
  parts.push(deflateRawSync(first, sync));
  let left = total - first.length;
  const full = left >= PIECE ? deflateRawSync(Buffer.alloc(PIECE), sync) : undefined;
  for (; left >= PIECE; left -= PIECE) parts.push(full!);
  if (left > 0) parts.push(deflateRawSync(Buffer.alloc(left), sync));
  parts.push(Uint8Array.from([0x03, 0x00])); // a final empty block
  const bytes = zipOne(`${name}.npy`, parts, options.declare ?? total);
  writeFileSync(file, bytes);
  return bytes.length;
}
