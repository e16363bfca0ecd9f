// Rules for ops that join, split or pick along an axis: Concat, Split, Slice, Gather, GatherElements,
// GatherND, Compress, OneHot, TopK, NonZero and NonMaxSuppression. Concat, Split, Slice and Gather
// also evaluate constant inputs.

import type { Dim } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import { buildConstant, stridesOf } from '../constants.js';
import type { RuleRow } from '../context.js';
import { axisOf, dimOf, dimSum, isNum, isStaticShape, mergeDim, unknownDims } from '../dims.js';
import { CONSTANT_LIMIT, type ConstantValue } from '../types.js';

/** Start and length of a slice along one dim, clamped as the spec says. */
function sliceRange(
  dim: number,
  start: number,
  end: number,
  step: number,
): { start: number; length: number } | undefined {
  if (step === 0 || !Number.isFinite(dim)) return undefined;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
    return { start, length: Math.max(0, Math.ceil((end - start) / step)) };
  }
  start = Math.min(Math.max(start, 0), dim - 1);
  end = Math.min(Math.max(end, -1), dim - 1);
  return { start, length: Math.max(0, Math.ceil((start - end) / -step)) };
}

export const indexingRules: RuleRow[] = [
  [
    ['Concat'],
    (c) => {
      const shapes = c.node.inputs.map((_, i) => c.shape(i));
      const known = shapes.filter((s): s is Dim[] => s !== undefined);
      const elem = c.node.inputs.map((_, i) => c.elem(i)).find((e) => e !== 0) ?? 0;
      if (known.length === 0) return c.set(0, elem, undefined);
      const rank = known[0]!.length;
      const axis = axisOf(c.int('axis', 0), rank);
      if (axis === undefined) return c.set(0, elem, unknownDims(rank));
      const out = unknownDims(rank).map((_, i) => known.reduce<Dim>((d, s) => mergeDim(d, s[i]), null));
      out[axis] = known.length === shapes.length ? dimSum(known.map((s) => s[axis]!)) : null;
      c.set(0, elem, out);
      const ks = c.node.inputs.map((_, i) => c.constant(i));
      if (ks.every((k) => k !== undefined) && isStaticShape(out)) {
        const values: Dim[] = [];
        const outer = out.slice(0, axis).reduce((a, b) => a * b, 1);
        for (let o = 0; o < outer; o++)
          for (const k of ks as ConstantValue[]) {
            const block = k.dims.slice(axis).reduce((a, b) => a * b, 1);
            for (let j = 0; j < block; j++) values.push(k.values[o * block + j] ?? null);
          }
        if (values.length <= CONSTANT_LIMIT)
          c.setConstant(0, { dtype: elem || ks[0]!.dtype, dims: out, values });
      }
    },
  ],

  [
    ['Split'],
    (c) => {
      const x = c.shape(0);
      const n = c.outputCount;
      const t = c.elem(0);
      if (!x) {
        for (let i = 0; i < n; i++) c.set(i, t, undefined);
        return;
      }
      const axis = axisOf(c.int('axis', 0), x.length);
      if (axis === undefined) return;
      const given: number[] | undefined = c.has(1) ? c.numbers(1) : c.ints('split');
      const total = x[axis]!;
      let sizes: Dim[];
      if (given) sizes = given;
      else if (c.has(1)) sizes = unknownDims(n);
      else if (isNum(total)) {
        const chunk = Math.ceil(total / n);
        sizes = Array.from({ length: n }, (_, i) => dimOf(Math.min(chunk, total - chunk * i)));
      } else sizes = unknownDims(n);
      const k = c.constant(0);
      let offset = 0;
      for (let i = 0; i < n; i++) {
        const size = sizes[i] ?? null;
        c.set(
          i,
          t,
          x.map((d, j) => (j === axis ? size : d)),
        );
        if (k && k.dims.length === 1 && isNum(size))
          c.setConstant(i, { dtype: k.dtype, dims: [size], values: k.values.slice(offset, offset + size) });
        offset += isNum(size) ? size : 0;
      }
    },
  ],

  [
    ['Slice'],
    (c) => {
      const x = c.shape(0);
      const t = c.elem(0);
      if (!x) return c.set(0, t, undefined);
      const old = c.opset < 10;
      const starts = old ? c.ints('starts') : c.numbers(1);
      const ends = old ? c.ints('ends') : c.numbers(2);
      const axesGiven = old ? c.ints('axes') : c.has(3) ? c.numbers(3) : undefined;
      const axesKnown = old || !c.has(3) || axesGiven !== undefined;
      const steps = old || !c.has(4) ? undefined : c.numbers(4);
      if (!starts || !ends || !axesKnown || (!old && c.has(4) && !steps)) {
        const out = x.map((d, i) =>
          axesGiven && !axesGiven.some((a) => axisOf(a, x.length) === i) ? d : null,
        );
        return c.set(0, t, out);
      }
      const axes = axesGiven ?? starts.map((_, i) => i);
      const out = [...x];
      const ranges = new Map<number, { start: number; step: number }>();
      for (let j = 0; j < axes.length; j++) {
        const axis = axisOf(axes[j]!, x.length);
        if (axis === undefined) return c.set(0, t, unknownDims(x.length));
        const step = steps?.[j] ?? 1;
        const d = x[axis]!;
        if (!isNum(d)) {
          // slicing a symbolic dim whole keeps it
          out[axis] = starts[j] === 0 && step === 1 && ends[j]! >= 2 ** 31 - 1 ? d : null;
          continue;
        }
        const r = sliceRange(d, starts[j]!, ends[j]!, step);
        out[axis] = r ? r.length : null;
        if (r) ranges.set(axis, { start: r.start, step });
      }
      c.set(0, t, out);
      const k = c.constant(0);
      if (k && isStaticShape(out) && k.dims.length === out.length) {
        const strides = stridesOf(k.dims);
        c.setConstant(
          0,
          buildConstant(k.dtype, out, (index) => {
            let flat = 0;
            for (let i = 0; i < index.length; i++) {
              const r = ranges.get(i);
              flat += (r ? r.start + index[i]! * r.step : index[i]!) * strides[i]!;
            }
            return k.values[flat] ?? null;
          }),
        );
      }
    },
  ],

  [
    ['Gather'],
    (c) => {
      const x = c.shape(0);
      const q = c.shape(1);
      const t = c.elem(0);
      if (!x || !q) return c.set(0, t, undefined);
      const axis = axisOf(c.int('axis', 0), x.length);
      if (axis === undefined) return c.set(0, t, undefined);
      const out = [...x.slice(0, axis), ...q, ...x.slice(axis + 1)];
      c.set(0, t, out);
      const k = c.constant(0);
      const idx = c.numbers(1);
      if (!k || !idx || !isStaticShape(out)) return;
      const strides = stridesOf(k.dims);
      const size = k.dims[axis]!;
      const qRank = q.length;
      c.setConstant(
        0,
        buildConstant(k.dtype, out, (index) => {
          let qFlat = 0;
          for (let i = 0; i < qRank; i++) qFlat = qFlat * (q[i] as number) + index[axis + i]!;
          let g = idx[qFlat]!;
          if (g < 0) g += size;
          if (!(g >= 0 && g < size)) return null;
          let flat = 0;
          for (let i = 0; i < axis; i++) flat += index[i]! * strides[i]!;
          flat += g * strides[axis]!;
          for (let i = axis + 1; i < k.dims.length; i++) flat += index[i - 1 + qRank]! * strides[i]!;
          return k.values[flat] ?? null;
        }),
      );
    },
  ],

  [['GatherElements'], (c) => c.set(0, c.elem(0), c.shape(1))],

  [
    ['GatherND'],
    (c) => {
      const x = c.shape(0);
      const q = c.shape(1);
      const last = q?.[q.length - 1];
      if (!x || !q || !isNum(last)) return c.set(0, c.elem(0), undefined);
      const batch = c.int('batch_dims', 0);
      c.set(0, c.elem(0), [...q.slice(0, -1), ...x.slice(batch + last)]);
    },
  ],

  [
    ['OneHot'],
    (c) => {
      const q = c.shape(0);
      const depth = c.numbers(1)?.[0];
      if (!q) return c.set(0, c.elem(2), undefined);
      const axis = axisOf(c.int('axis', -1), q.length + 1) ?? q.length;
      const out = [...q];
      out.splice(axis, 0, depth !== undefined ? dimOf(depth) : null);
      c.set(0, c.elem(2), out);
    },
  ],

  [
    ['Compress'],
    (c) => {
      const x = c.shape(0);
      const cond = c.numbers(1);
      const count = cond ? cond.filter((v) => v !== 0).length : null;
      if (!c.hasAttr('axis')) return c.set(0, c.elem(0), [count]);
      if (!x) return c.set(0, c.elem(0), undefined);
      const axis = axisOf(c.int('axis', 0), x.length);
      c.set(
        0,
        c.elem(0),
        x.map((d, i) => (i === axis ? count : d)),
      );
    },
  ],

  [['NonZero'], (c) => c.set(0, DataType.INT64, [c.shape(0)?.length ?? null, null])],
  [['NonMaxSuppression'], (c) => c.set(0, DataType.INT64, [null, 3])],

  [
    ['TopK'],
    (c) => {
      const x = c.shape(0);
      const k = c.opset < 10 ? c.int('k', 0) : c.numbers(1)?.[0];
      const out = x?.map((d, i) =>
        i === axisOf(c.int('axis', -1), x.length) ? (k !== undefined ? dimOf(k) : null) : d,
      );
      c.set(0, c.elem(0), out);
      c.set(1, DataType.INT64, out);
    },
  ],
];
