// Tensor: dtype + dims + data. Data is raw little-endian bytes exactly as TensorProto.raw_data holds
// them — a zero-copy view into the model file where possible — or a lazy loader for external data.
// Tensor bytes are never written in place: an edit replaces the whole buffer (setData), which is
// what lets a cloned model share every weight with its original until one of them is changed.

import { DataType, dataTypeBits, dataTypeName, rawByteLength } from '../onnx/dtype.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from '../onnx/float16.js';
import type { StringStringEntryProto, TensorProto_Segment } from '../onnx/gen/onnx_pb.js';

/** Where external data lives (TensorProto.external_data), relative to the model's folder. */
export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
  checksum?: string | undefined;
}

export type TensorData =
  | { kind: 'bytes'; bytes: Uint8Array }
  | {
      kind: 'external';
      where: ExternalLocation;
      load: () => Uint8Array;
      readRange?: (offset: number, length: number) => Uint8Array;
    }
  | { kind: 'strings'; strings: Uint8Array[] };

/** TensorProto fields no pass interprets, kept so that a round trip loses nothing. */
export interface TensorExtras {
  docString?: string;
  metadataProps?: StringStringEntryProto[];
  segment?: TensorProto_Segment | undefined;
  unknown?: unknown;
}

export type NumericArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export class Tensor {
  name: string;
  dtype: number;
  dims: number[];
  extras: TensorExtras;
  private data: TensorData;

  constructor(name: string, dtype: number, dims: number[], data: TensorData, extras: TensorExtras = {}) {
    this.name = name;
    this.dtype = dtype;
    this.dims = dims;
    this.data = data;
    this.extras = extras;
  }

  /** number of elements */
  get size(): number {
    let n = 1;
    for (const d of this.dims) n *= d;
    return n;
  }

  /** bytes the elements take in raw form (0 for strings) */
  get byteLength(): number {
    if (this.data.kind === 'external') return this.data.where.length;
    if (this.data.kind === 'strings') return this.data.strings.reduce((s, x) => s + x.length, 0);
    return this.data.bytes.length;
  }

  get isExternal(): boolean {
    return this.data.kind === 'external';
  }

  get external(): ExternalLocation | undefined {
    return this.data.kind === 'external' ? this.data.where : undefined;
  }

  get isString(): boolean {
    return this.data.kind === 'strings';
  }

  get strings(): Uint8Array[] {
    if (this.data.kind !== 'strings') throw new Error(`tensor ${this.name} does not hold strings`);
    return this.data.strings;
  }

  /**
   * The raw little-endian bytes. External data is read on each call and not cached, so a caller that
   * streams a huge model tensor by tensor keeps only one tensor in memory; call `materialize()` to
   * keep the bytes.
   */
  bytes(): Uint8Array {
    switch (this.data.kind) {
      case 'bytes':
        return this.data.bytes;
      case 'external':
        return this.data.load();
      case 'strings':
        throw new Error(`tensor ${this.name} holds strings, not bytes`);
    }
  }

  /**
   * Hand the raw bytes to `sink` in pieces of at most `chunk` bytes (external data is read piece by
   * piece, so copying a huge tensor never holds it whole in memory).
   */
  forEachChunk(sink: (bytes: Uint8Array, offset: number) => void, chunk = 16 << 20): void {
    if (this.data.kind === 'external' && this.data.readRange) {
      const total = this.data.where.length;
      for (let at = 0; at < total; at += chunk)
        sink(this.data.readRange(at, Math.min(chunk, total - at)), at);
      return;
    }
    sink(this.bytes(), 0);
  }

  /** Load external data into memory (the tensor stops referring to the external file). */
  materialize(): this {
    if (this.data.kind === 'external') this.data = { kind: 'bytes', bytes: this.data.load() };
    return this;
  }

  /** Replace the data (never mutate the old bytes: clones may share them). */
  setData(bytes: Uint8Array, dtype = this.dtype, dims = this.dims): void {
    const expected = rawByteLength(
      dtype,
      dims.reduce((a, b) => a * b, 1),
    );
    if (bytes.length !== expected)
      throw new Error(
        `tensor ${this.name}: ${bytes.length} bytes given, ${expected} expected for ${dataTypeName(dtype)}[${dims.join(',')}]`,
      );
    this.dtype = dtype;
    this.dims = dims;
    this.data = { kind: 'bytes', bytes };
  }

  /** A tensor that shares this one's data (copy on write: setData on either does not affect the other). */
  clone(name = this.name): Tensor {
    return new Tensor(name, this.dtype, [...this.dims], { ...this.data }, { ...this.extras });
  }

  /** The elements as a typed array of their natural JS type (a view when aligned, else a copy). */
  typed(): NumericArray {
    const b = this.bytes();
    const ctor = typedCtor(this.dtype);
    if (!ctor) throw new Error(`tensor ${this.name}: no typed view for ${dataTypeName(this.dtype)}`);
    const width = ctor.BYTES_PER_ELEMENT;
    const count = Math.floor(b.length / width);
    if (b.byteOffset % width === 0) return new ctor(b.buffer, b.byteOffset, count);
    return new ctor(Uint8Array.prototype.slice.call(b).buffer, 0, count); // a copy (Buffer#slice is a view)
  }

  /** The elements converted to float32 (float16/bfloat16/int types decoded; int4/uint4 unpacked). */
  toFloat32(): Float32Array {
    const n = this.size;
    switch (this.dtype) {
      case DataType.FLOAT: {
        const t = this.typed() as Float32Array;
        return t;
      }
      case DataType.FLOAT16: {
        const h = this.typed() as Uint16Array;
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = float16BitsToFloat32(h[i]!);
        return out;
      }
      case DataType.BFLOAT16: {
        const h = this.typed() as Uint16Array;
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = bfloat16BitsToFloat32(h[i]!);
        return out;
      }
      case DataType.INT4:
      case DataType.UINT4: {
        const b = this.bytes();
        const out = new Float32Array(n);
        const signed = this.dtype === DataType.INT4;
        for (let i = 0; i < n; i++) {
          const nib = (b[i >> 1]! >> ((i & 1) * 4)) & 0xf;
          out[i] = signed && nib >= 8 ? nib - 16 : nib;
        }
        return out;
      }
      case DataType.BOOL: {
        return Float32Array.from(this.bytes(), (x) => (x ? 1 : 0));
      }
      default: {
        const t = this.typed();
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = Number(t[i]!);
        return out;
      }
    }
  }

  /** Integer elements as plain numbers (for shape tensors, axes, ...). */
  toNumbers(): number[] {
    if (this.dtype === DataType.INT64 || this.dtype === DataType.UINT64) {
      return Array.from(this.typed() as BigInt64Array, (x) => Number(x));
    }
    const ctor = typedCtor(this.dtype);
    // integer types exactly (float32 would round int32 above 2^24); floats through toFloat32
    if (
      ctor &&
      ctor !== Float32Array &&
      ctor !== Float64Array &&
      this.dtype !== DataType.FLOAT16 &&
      this.dtype !== DataType.BFLOAT16
    )
      return Array.from(this.typed() as Int32Array);
    return Array.from(this.toFloat32());
  }

  static fromFloat32(name: string, dims: number[], values: Float32Array | number[]): Tensor {
    const arr = values instanceof Float32Array ? values : Float32Array.from(values);
    return new Tensor(name, DataType.FLOAT, dims, { kind: 'bytes', bytes: viewBytes(arr) });
  }

  static fromInt64(name: string, dims: number[], values: number[] | bigint[] | BigInt64Array): Tensor {
    const arr =
      values instanceof BigInt64Array ? values : BigInt64Array.from(values as number[], (x) => BigInt(x));
    return new Tensor(name, DataType.INT64, dims, { kind: 'bytes', bytes: viewBytes(arr) });
  }

  static fromTyped(name: string, dtype: number, dims: number[], values: NumericArray): Tensor {
    return new Tensor(name, dtype, dims, { kind: 'bytes', bytes: viewBytes(values) });
  }

  static fromBytes(name: string, dtype: number, dims: number[], bytes: Uint8Array): Tensor {
    return new Tensor(name, dtype, dims, { kind: 'bytes', bytes });
  }
}

export function viewBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

type TypedCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  BYTES_PER_ELEMENT: number;
};

export function typedCtor(dtype: number): TypedCtor | undefined {
  switch (dtype) {
    case DataType.FLOAT:
      return Float32Array;
    case DataType.DOUBLE:
      return Float64Array;
    case DataType.INT8:
      return Int8Array;
    case DataType.UINT8:
    case DataType.BOOL:
      return Uint8Array;
    case DataType.INT16:
      return Int16Array;
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return Uint16Array;
    case DataType.INT32:
      return Int32Array;
    case DataType.UINT32:
      return Uint32Array;
    case DataType.INT64:
      return BigInt64Array;
    case DataType.UINT64:
      return BigUint64Array;
    default:
      return dataTypeBits(dtype) === 8 ? Uint8Array : undefined;
  }
}
