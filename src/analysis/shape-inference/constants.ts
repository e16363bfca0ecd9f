// Constant propagation helpers: reading initializers as constants, building constants element by
// element (with numpy broadcasting), and the unary and binary ops evaluated on them. Integer constants
// may hold symbols and unknowns, which the binary ops carry through identities (x+0, x*1, …).

import type { Dim } from '../../ir/graph.js';
import { type Tensor, typedCtor } from '../../ir/tensor.js';
import { DataType } from '../../onnx/dtype.js';
import { broadcastShapes, isNum, isStaticShape } from './dims.js';
import { CONSTANT_LIMIT, type ConstantValue } from './types.js';

export const INT_TYPES = new Set<number>([
  DataType.UINT8,
  DataType.INT8,
  DataType.UINT16,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.UINT32,
  DataType.UINT64,
  DataType.BOOL,
  DataType.UINT4,
  DataType.INT4,
]);

// ---------------------------------------------------------------------------------------------------
// constants

export function allNumbers(values: readonly Dim[]): values is number[] {
  return values.every(isNum);
}

export function tensorConstant(t: Tensor): ConstantValue | undefined {
  if (t.isString || t.size > CONSTANT_LIMIT || !t.dims.every((d) => Number.isInteger(d) && d >= 0))
    return undefined;
  try {
    const ctor = typedCtor(t.dtype);
    const half = t.dtype === DataType.FLOAT16 || t.dtype === DataType.BFLOAT16;
    const values =
      ctor && !half ? Array.from(t.typed() as ArrayLike<number | bigint>, Number) : Array.from(t.toFloat32());
    if (values.length !== t.size) return undefined;
    return { dtype: t.dtype, dims: [...t.dims], values };
  } catch {
    return undefined; // unreadable external data, odd dtype: not a constant
  }
}

/** Build a constant of `dims` whose element at each multi-index is `at(index)`; undefined if too big. */
export function buildConstant(
  dtype: number,
  dims: number[],
  at: (index: number[]) => Dim,
): ConstantValue | undefined {
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) return undefined;
  const n = dims.reduce((a, b) => a * b, 1);
  if (!(n <= CONSTANT_LIMIT)) return undefined;
  const values: Dim[] = new Array(n);
  const index = new Array<number>(dims.length).fill(0);
  for (let k = 0; k < n; k++) {
    values[k] = at(index);
    for (let j = dims.length - 1; j >= 0; j--) {
      if (++index[j]! < dims[j]!) break;
      index[j] = 0;
    }
  }
  return { dtype, dims, values };
}

export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i]!;
  }
  return s;
}

/** Element of `c` at the out-index broadcast from the out shape (right-aligned, size-1 dims repeat). */
export function broadcastRead(c: ConstantValue, strides: number[], index: number[]): Dim {
  const off = index.length - c.dims.length;
  let flat = 0;
  for (let i = 0; i < c.dims.length; i++) if (c.dims[i] !== 1) flat += index[off + i]! * strides[i]!;
  return c.values[flat] ?? null;
}

export function elementwiseConstant(
  dtype: number,
  inputs: ConstantValue[],
  fn: (xs: Dim[]) => Dim,
): ConstantValue | undefined {
  const dims = broadcastShapes(inputs.map((c) => c.dims));
  if (!dims || !isStaticShape(dims)) return undefined;
  const strides = inputs.map((c) => stridesOf(c.dims));
  const isInt = INT_TYPES.has(dtype);
  return buildConstant(dtype, dims, (index) => {
    const r = fn(inputs.map((c, i) => broadcastRead(c, strides[i]!, index)));
    if (!isNum(r)) return r;
    if (dtype === DataType.BOOL) return r ? 1 : 0;
    return isInt ? Math.trunc(r) : r;
  });
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Unary ops evaluated on constants. */
export const UNARY_CONSTANT: Record<string, (x: number) => number> = {
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Round: roundHalfEven,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Relu: (x) => Math.max(0, x),
  Sign: Math.sign,
  Not: (x) => (x ? 0 : 1),
  Exp: Math.exp,
  Log: Math.log,
};

/** Binary ops evaluated on constants; symbols survive the identities x+0, x-0, x*1, x/1. */
export function binaryConstant(
  op: string,
  isInt: boolean,
  fmod: boolean,
): ((a: Dim, b: Dim) => Dim) | undefined {
  const numeric = (f: (a: number, b: number) => number) => (a: Dim, b: Dim) =>
    isNum(a) && isNum(b) ? f(a, b) : null;
  switch (op) {
    case 'Add':
      return (a, b) => (b === 0 ? a : a === 0 ? b : isNum(a) && isNum(b) ? a + b : null);
    case 'Sub':
      return (a, b) => (b === 0 ? a : isNum(a) && isNum(b) ? a - b : null);
    case 'Mul':
      return (a, b) => (b === 1 ? a : a === 1 ? b : isNum(a) && isNum(b) ? a * b : null);
    case 'Div':
      return (a, b) => (b === 1 ? a : isNum(a) && isNum(b) ? (isInt ? Math.trunc(a / b) : a / b) : null);
    case 'Mod':
      return numeric((a, b) => (fmod || !isInt ? a % b : a - b * Math.floor(a / b)));
    case 'Pow':
      return numeric((a, b) => a ** b);
    case 'Max':
      return numeric(Math.max);
    case 'Min':
      return numeric(Math.min);
    case 'Sum':
      return numeric((a, b) => a + b);
    case 'Equal':
      return (a, b) => (a !== null && a === b ? 1 : isNum(a) && isNum(b) ? 0 : null);
    case 'Less':
      return numeric((a, b) => (a < b ? 1 : 0));
    case 'LessOrEqual':
      return numeric((a, b) => (a <= b ? 1 : 0));
    case 'Greater':
      return numeric((a, b) => (a > b ? 1 : 0));
    case 'GreaterOrEqual':
      return numeric((a, b) => (a >= b ? 1 : 0));
    case 'And':
      return numeric((a, b) => (a && b ? 1 : 0));
    case 'Or':
      return numeric((a, b) => (a || b ? 1 : 0));
    case 'Xor':
      return numeric((a, b) => (!a !== !b ? 1 : 0));
    default:
      return undefined;
  }
}
