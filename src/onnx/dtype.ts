// ONNX TensorProto.DataType: ids, names, storage widths, and where typed (non-raw) data lives.
// Spellings follow the ONNX spec (FLOAT, FLOAT16, INT4, ...). Widths are in bits so that the
// sub-byte types (INT4/UINT4/FLOAT4E2M1 pack 2 per byte, INT2/UINT2 pack 4 per byte) fit one table.

export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

export type DataTypeId = number;

/** Where a tensor's elements go when it does not use raw_data (TensorProto field names). */
export type TypedField = 'floatData' | 'int32Data' | 'int64Data' | 'doubleData' | 'uint64Data' | 'stringData';

interface DataTypeInfo {
  name: string;
  /** bits per element in raw_data (0 for STRING) */
  bits: number;
  /** typed field used when raw_data is absent */
  field: TypedField;
  /** elements packed in one typed-field entry (2 for 4-bit types, 4 for 2-bit types, 2 for complex) */
  perEntry: number;
}

const INFO: Record<number, DataTypeInfo> = {
  1: { name: 'FLOAT', bits: 32, field: 'floatData', perEntry: 1 },
  2: { name: 'UINT8', bits: 8, field: 'int32Data', perEntry: 1 },
  3: { name: 'INT8', bits: 8, field: 'int32Data', perEntry: 1 },
  4: { name: 'UINT16', bits: 16, field: 'int32Data', perEntry: 1 },
  5: { name: 'INT16', bits: 16, field: 'int32Data', perEntry: 1 },
  6: { name: 'INT32', bits: 32, field: 'int32Data', perEntry: 1 },
  7: { name: 'INT64', bits: 64, field: 'int64Data', perEntry: 1 },
  8: { name: 'STRING', bits: 0, field: 'stringData', perEntry: 1 },
  9: { name: 'BOOL', bits: 8, field: 'int32Data', perEntry: 1 },
  10: { name: 'FLOAT16', bits: 16, field: 'int32Data', perEntry: 1 },
  11: { name: 'DOUBLE', bits: 64, field: 'doubleData', perEntry: 1 },
  12: { name: 'UINT32', bits: 32, field: 'uint64Data', perEntry: 1 },
  13: { name: 'UINT64', bits: 64, field: 'uint64Data', perEntry: 1 },
  // complex: one element = (re, im); the typed field holds 2 entries per element
  14: { name: 'COMPLEX64', bits: 64, field: 'floatData', perEntry: 0.5 },
  15: { name: 'COMPLEX128', bits: 128, field: 'doubleData', perEntry: 0.5 },
  16: { name: 'BFLOAT16', bits: 16, field: 'int32Data', perEntry: 1 },
  17: { name: 'FLOAT8E4M3FN', bits: 8, field: 'int32Data', perEntry: 1 },
  18: { name: 'FLOAT8E4M3FNUZ', bits: 8, field: 'int32Data', perEntry: 1 },
  19: { name: 'FLOAT8E5M2', bits: 8, field: 'int32Data', perEntry: 1 },
  20: { name: 'FLOAT8E5M2FNUZ', bits: 8, field: 'int32Data', perEntry: 1 },
  21: { name: 'UINT4', bits: 4, field: 'int32Data', perEntry: 2 },
  22: { name: 'INT4', bits: 4, field: 'int32Data', perEntry: 2 },
  23: { name: 'FLOAT4E2M1', bits: 4, field: 'int32Data', perEntry: 2 },
  24: { name: 'FLOAT8E8M0', bits: 8, field: 'int32Data', perEntry: 1 },
  25: { name: 'UINT2', bits: 2, field: 'int32Data', perEntry: 4 },
  26: { name: 'INT2', bits: 2, field: 'int32Data', perEntry: 4 },
};

export function isKnownDataType(dtype: number): boolean {
  return INFO[dtype] !== undefined;
}

export function dataTypeName(dtype: number): string {
  return INFO[dtype]?.name ?? `DataType(${dtype})`;
}

export function dataTypeFromName(name: string): number | undefined {
  const upper = name.toUpperCase();
  for (const [id, info] of Object.entries(INFO)) if (info.name === upper) return Number(id);
  return undefined;
}

export function dataTypeBits(dtype: number): number {
  return INFO[dtype]?.bits ?? 0;
}

export function typedFieldOf(dtype: number): TypedField | undefined {
  return INFO[dtype]?.field;
}

export function elementsPerEntry(dtype: number): number {
  return INFO[dtype]?.perEntry ?? 1;
}

/** Bytes that `count` elements take in raw_data (sub-byte types round up to whole bytes). */
export function rawByteLength(dtype: number, count: number): number {
  return Math.ceil((count * dataTypeBits(dtype)) / 8);
}

export function isFloatType(dtype: number): boolean {
  return (
    dtype === DataType.FLOAT ||
    dtype === DataType.FLOAT16 ||
    dtype === DataType.DOUBLE ||
    dtype === DataType.BFLOAT16
  );
}
