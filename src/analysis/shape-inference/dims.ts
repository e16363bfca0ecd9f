// Dim and shape helpers: computed sizes, products and sums of dims, numpy broadcasting, and how two
// descriptions of one type combine (merge: the more specific wins; unify: only what agrees is kept).
// Dims are numbers, symbols (strings) or null (unknown).

import type { Dim, TensorType } from '../../ir/graph.js';
import { CONSTANT_LIMIT } from './types.js';

export const isNum = (d: Dim | undefined): d is number => typeof d === 'number';

export function isStaticShape(shape: readonly Dim[] | undefined): shape is number[] {
  return shape?.every(isNum) === true;
}

/** A computed size: a non-negative integer, else unknown. */
export function dimOf(x: number): Dim {
  return Number.isFinite(x) && x >= 0 && Number.isInteger(x) ? x : null;
}

/** Product of dims: a number when all are numbers, the symbol when one symbol times ones. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  let symbol: Dim = null;
  let symbols = 0;
  for (const d of dims) {
    if (isNum(d)) n *= d;
    else if (typeof d === 'string') {
      symbol = d;
      symbols++;
    } else return null;
  }
  if (symbols === 0) return n;
  return symbols === 1 && n === 1 ? symbol : null;
}

/** numpy broadcasting of two dims. */
export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (isNum(a)) return a;
  if (isNum(b)) return b;
  return a !== null && a === b ? a : null;
}

/** numpy broadcasting of shapes; undefined when a rank is unknown. */
export function broadcastShapes(shapes: (readonly Dim[] | undefined)[]): Dim[] | undefined {
  let out: Dim[] = [];
  for (const s of shapes) {
    if (!s) return undefined;
    const r = Math.max(out.length, s.length);
    const next: Dim[] = new Array(r);
    for (let i = 0; i < r; i++) {
      const a = out[out.length - r + i];
      const b = s[s.length - r + i];
      next[i] = a === undefined ? b! : b === undefined ? a : broadcastDim(a, b);
    }
    out = next;
  }
  return out;
}

/** Two descriptions of the same dim: the more specific wins (number, then symbol). */
export function mergeDim(a: Dim | undefined, b: Dim | undefined): Dim {
  if (isNum(a)) return a;
  if (isNum(b)) return b;
  return a ?? b ?? null;
}

/** Two possible values of a dim (If branches, loop iterations): kept only when they agree. */
function unifyDim(a: Dim, b: Dim): Dim {
  return a === b ? a : null;
}

export function mergeTypes(
  inferred: TensorType | undefined,
  declared: TensorType | undefined,
): TensorType | undefined {
  if (!inferred) return declared;
  if (!declared) return inferred;
  const elemType = inferred.elemType || declared.elemType;
  const a = inferred.shape;
  const b = declared.shape;
  if (!a) return { elemType, shape: b };
  if (!b || a.length !== b.length) return { elemType, shape: a };
  return { elemType, shape: a.map((d, i) => mergeDim(d, b[i])) };
}

export function unifyTypes(a: TensorType | undefined, b: TensorType | undefined): TensorType | undefined {
  if (!a || !b) return undefined;
  const elemType = a.elemType === b.elemType ? a.elemType : a.elemType || b.elemType;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { elemType, shape: undefined };
  const bs = b.shape;
  return { elemType, shape: a.shape.map((d, i) => unifyDim(d, bs[i]!)) };
}

export function sameType(a: TensorType | undefined, b: TensorType | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.elemType !== b.elemType || !a.shape !== !b.shape) return false;
  if (!a.shape || !b.shape) return true;
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape![i]);
}

/** Normalize a possibly negative axis against a rank; undefined when out of range. */
export function axisOf(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

export function unknownDims(rank: number): Dim[] {
  return new Array<Dim>(Number.isInteger(rank) && rank >= 0 && rank <= CONSTANT_LIMIT ? rank : 0).fill(null);
}

export function dimSum(dims: Dim[]): Dim {
  let n = 0;
  for (const d of dims) {
    if (!isNum(d)) return null;
    n += d;
  }
  return n;
}
