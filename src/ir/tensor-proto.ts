// TensorProto <-> IR Tensor. On load every numeric tensor becomes raw little-endian bytes (typed
// fields such as float_data decode slowly and are awkward to edit); strings stay strings. Every size a
// file declares is checked against the bytes it really holds before anything is allocated, so a file
// declaring 2^40 elements with 16 bytes of data is an error, not an allocation.

import { create } from '@bufbuild/protobuf';
import { EdgefitError } from '../errors.js';
import {
  DataType,
  dataTypeName,
  elementsPerEntry,
  isKnownDataType,
  rawByteLength,
  typedFieldOf,
} from '../onnx/dtype.js';
import {
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProtoSchema,
} from '../onnx/gen/onnx_pb.js';
import { type ExternalLocation, Tensor, type TensorData, viewBytes } from './tensor.js';

/** Reads external tensor data for a model loaded from a file (provided by the host, e.g. Node's fs). */
export interface ExternalDataSource {
  /** size in bytes of the file at `location` (relative to the model's folder); throws if missing */
  size(location: string): number;
  read(location: string, offset: number, length: number): Uint8Array;
}

const MAX_ELEMENTS = 2 ** 50;

export function elementCount(dims: readonly (number | bigint)[], what: string): number {
  let n = 1;
  for (const d of dims) {
    const v = Number(d);
    if (!Number.isSafeInteger(v) || v < 0)
      throw new EdgefitError(
        'BAD_MODEL',
        `${what} has an invalid dimension ${d}`,
        'the file is corrupt or was written wrongly',
      );
    n *= v;
    if (n > MAX_ELEMENTS)
      throw new EdgefitError(
        'BAD_MODEL',
        `${what} declares an absurd size (${dims.join('x')})`,
        'the file is corrupt',
      );
  }
  return n;
}

/** A relative POSIX path that stays inside the model's folder, else an error. */
export function checkExternalLocation(location: string, tensorName: string): void {
  const bad =
    location === '' ||
    location.startsWith('/') ||
    location.startsWith('\\') ||
    /^[a-zA-Z]:/.test(location) ||
    location.split(/[\\/]/).some((part) => part === '..') ||
    location.includes('\0');
  if (bad)
    throw new EdgefitError(
      'EXTERNAL_DATA',
      `tensor ${tensorName}: external data location "${location}" is not a relative path inside the model's folder`,
      'external data must sit beside the model or below its folder',
    );
}

function parseDecimal(value: string, what: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new EdgefitError(
      'EXTERNAL_DATA',
      `${what} "${value}" is not a valid byte count`,
      'the file is corrupt',
    );
  return Number(value);
}

function externalData(t: TensorProto, expected: number, source: ExternalDataSource | undefined): TensorData {
  const entries = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (location === undefined)
    throw new EdgefitError(
      'EXTERNAL_DATA',
      `tensor ${t.name}: external data has no location`,
      'the file is corrupt',
    );
  checkExternalLocation(location, t.name);
  const offset = parseDecimal(entries.get('offset') ?? '0', `tensor ${t.name}: external data offset`);
  const length = parseDecimal(
    entries.get('length') ?? String(expected),
    `tensor ${t.name}: external data length`,
  );
  if (length !== expected)
    throw new EdgefitError(
      'EXTERNAL_DATA',
      `tensor ${t.name}: external data length ${length} does not match its shape (${expected} bytes expected)`,
      'the model and its data file do not belong together',
    );
  if (!source)
    throw new EdgefitError(
      'EXTERNAL_DATA',
      `tensor ${t.name} keeps its data in external file "${location}"`,
      'load the model from its path so the data file can be found beside it',
    );
  const size = source.size(location);
  if (offset + length > size)
    throw new EdgefitError(
      'EXTERNAL_DATA',
      `tensor ${t.name}: external data runs past the end of "${location}" (needs bytes ${offset}..${offset + length}, file has ${size})`,
      'the data file is truncated or belongs to another model',
    );
  const where: ExternalLocation = { location, offset, length, checksum: entries.get('checksum') };
  return {
    kind: 'external',
    where,
    load: () => source.read(location, offset, length),
    readRange: (at, n) => source.read(location, offset + at, n),
  };
}

/** The typed-field entries of a tensor converted to raw bytes. */
function typedToRaw(t: TensorProto, n: number): Uint8Array {
  const dtype = t.dataType;
  const field = typedFieldOf(dtype)!;
  const entries = t[field] as ArrayLike<number | bigint>;
  const per = elementsPerEntry(dtype);
  const expectedEntries = Math.ceil(n / per);
  if (entries.length !== expectedEntries)
    throw new EdgefitError(
      'BAD_MODEL',
      `tensor ${t.name || '(unnamed)'} declares ${n} ${dataTypeName(dtype)} elements but holds ${entries.length} entries in ${field}`,
      'the file is corrupt',
    );
  switch (dtype) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return viewBytes(Float32Array.from(t.floatData));
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return viewBytes(Float64Array.from(t.doubleData));
    case DataType.INT32:
      return viewBytes(Int32Array.from(t.int32Data));
    case DataType.INT64:
      return viewBytes(BigInt64Array.from(t.int64Data));
    case DataType.UINT32:
      return viewBytes(Uint32Array.from(t.uint64Data, (x) => Number(BigInt.asUintN(32, x))));
    case DataType.UINT64:
      return viewBytes(BigUint64Array.from(t.uint64Data));
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return viewBytes(Uint16Array.from(t.int32Data, (x) => x & 0xffff));
    default:
      // 8-bit types one per entry; 4-bit and 2-bit types already packed into one byte per entry
      return Uint8Array.from(t.int32Data, (x) => x & 0xff);
  }
}

export function tensorFromProto(
  t: TensorProto,
  source: ExternalDataSource | undefined,
  what?: string,
): Tensor {
  const label = what ?? `tensor ${t.name || '(unnamed)'}`;
  const n = elementCount(t.dims, label);
  const dims = t.dims.map(Number);
  const extras = {
    docString: t.docString,
    metadataProps: t.metadataProps,
    segment: t.segment,
    unknown: (t as { $unknown?: unknown }).$unknown,
  };
  if (t.dataType === DataType.STRING) {
    if (t.stringData.length !== n)
      throw new EdgefitError(
        'BAD_MODEL',
        `${label} declares ${n} strings but holds ${t.stringData.length}`,
        'the file is corrupt',
      );
    return new Tensor(t.name, t.dataType, dims, { kind: 'strings', strings: t.stringData }, extras);
  }
  if (!isKnownDataType(t.dataType))
    throw new EdgefitError(
      'BAD_MODEL',
      `${label} has unknown data type ${t.dataType}`,
      'the file is corrupt or newer than edgefit',
    );
  const expected = rawByteLength(t.dataType, n);
  let data: TensorData;
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    data = externalData(t, expected, source);
  } else if (t.rawData.length > 0 || n === 0) {
    if (t.rawData.length !== expected)
      throw new EdgefitError(
        'BAD_MODEL',
        `${label} declares ${dataTypeName(t.dataType)}[${dims.join(',')}] (${expected} bytes) but holds ${t.rawData.length} bytes`,
        'the file is corrupt',
      );
    data = { kind: 'bytes', bytes: t.rawData };
  } else {
    data = { kind: 'bytes', bytes: typedToRaw(t, n) };
  }
  return new Tensor(t.name, t.dataType, dims, data, extras);
}

export interface TensorToProtoOptions {
  /** put the data in external data at this place instead of raw_data */
  external?: ExternalLocation | undefined;
  /** leave raw_data empty (the caller appends it to the encoded bytes itself) */
  omitRawData?: boolean;
}

export function tensorToProto(t: Tensor, options: TensorToProtoOptions = {}): TensorProto {
  const proto = create(TensorProtoSchema, {
    name: t.name,
    dims: t.dims.map((d) => BigInt(d)),
    dataType: t.dtype,
    docString: t.extras.docString ?? '',
    metadataProps: t.extras.metadataProps ?? [],
  });
  if (t.extras.segment) proto.segment = t.extras.segment;
  if (t.extras.unknown) (proto as { $unknown?: unknown }).$unknown = t.extras.unknown;
  if (t.isString) {
    proto.stringData = t.strings;
  } else if (options.external) {
    const e = options.external;
    proto.dataLocation = TensorProto_DataLocation.EXTERNAL;
    proto.externalData = [
      { key: 'location', value: e.location },
      { key: 'offset', value: String(e.offset) },
      { key: 'length', value: String(e.length) },
    ].map((kv) => create(StringStringEntryProtoSchema, kv));
  } else if (!options.omitRawData) {
    proto.rawData = t.bytes();
  }
  return proto;
}
