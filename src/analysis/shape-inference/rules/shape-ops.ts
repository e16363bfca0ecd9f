// Rules for ops that rearrange or describe a shape: Flatten, Reshape, Transpose, Squeeze, Unsqueeze,
// DepthToSpace/SpaceToDepth, Shape, Size, Det, and the constant makers Constant, ConstantOfShape and
// Range. Most also carry constant inputs through, so shape arithmetic chains resolve.

import type { Dim } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import { buildConstant, stridesOf, tensorConstant } from '../constants.js';
import type { RuleRow } from '../context.js';
import { axisOf, dimOf, dimProduct, isNum, isStaticShape, unknownDims } from '../dims.js';
import { CONSTANT_LIMIT } from '../types.js';

/** Reshape's output: 0 copies the input dim (unless allowzero), -1 takes what is left. */
function reshapeDims(input: Dim[] | undefined, target: Dim[], allowZero: boolean): Dim[] {
  const out = target.map((d, i): Dim => {
    if (d === 0 && !allowZero) return input?.[i] ?? null;
    if (isNum(d) && d < -1) return null;
    return d;
  });
  const k = out.indexOf(-1);
  if (k < 0) return out;
  out[k] = null;
  if (!input) return out;
  // cancel equal factors (numbers multiply, symbols pair up) between input and the other output dims
  const rest = out.filter((_, i) => i !== k);
  if (rest.some((d) => d === null) || input.some((d) => d === null)) return out;
  let num = 1;
  let den = 1;
  const symbols = new Map<string, number>();
  for (const d of input) {
    if (isNum(d)) num *= d;
    else symbols.set(d as string, (symbols.get(d as string) ?? 0) + 1);
  }
  for (const d of rest) {
    if (isNum(d)) den *= d;
    else {
      const n = symbols.get(d as string) ?? 0;
      if (n === 0) return out;
      symbols.set(d as string, n - 1);
    }
  }
  const left = [...symbols].filter(([, n]) => n > 0);
  if (den === 0 || num % den !== 0) return out;
  const ratio = num / den;
  if (left.length === 0) out[k] = ratio;
  else if (left.length === 1 && left[0]![1] === 1 && ratio === 1) out[k] = left[0]![0];
  return out;
}

export const shapeOpRules: RuleRow[] = [
  [
    ['Flatten'],
    (c) => {
      const x = c.shape(0);
      if (!x) return c.set(0, c.elem(0), [null, null]);
      const axis = c.int('axis', 1);
      const a = axis < 0 ? axis + x.length : axis;
      c.set(0, c.elem(0), [dimProduct(x.slice(0, a)), dimProduct(x.slice(a))]);
      const k = c.constant(0);
      const [rows, cols] = [dimProduct(k?.dims.slice(0, a) ?? []), dimProduct(k?.dims.slice(a) ?? [])];
      if (k && isNum(rows) && isNum(cols)) c.setConstant(0, { ...k, dims: [rows, cols] });
    },
  ],

  [
    ['Reshape'],
    (c) => {
      const x = c.shape(0);
      const target: Dim[] | undefined = c.opset < 5 ? c.ints('shape') : c.dims(1);
      if (!target) {
        const s = c.shape(1);
        return c.set(
          0,
          c.elem(0),
          s && isNum(s[0]) && s[0] <= CONSTANT_LIMIT ? unknownDims(s[0]) : undefined,
        );
      }
      const out = reshapeDims(x, target, c.int('allowzero', 0) === 1);
      c.set(0, c.elem(0), out);
      const k = c.constant(0);
      if (k && isStaticShape(out)) c.setConstant(0, { ...k, dims: out });
    },
  ],

  [
    ['Transpose'],
    (c) => {
      const x = c.shape(0);
      if (!x) return c.set(0, c.elem(0), undefined);
      const perm = c.ints('perm') ?? x.map((_, i) => x.length - 1 - i);
      c.set(
        0,
        c.elem(0),
        perm.map((p) => x[p] ?? null),
      );
      const k = c.constant(0);
      if (k && perm.length === k.dims.length) {
        const strides = stridesOf(k.dims);
        c.setConstant(
          0,
          buildConstant(
            k.dtype,
            perm.map((p) => k.dims[p]!),
            (index) => {
              let flat = 0;
              for (let i = 0; i < perm.length; i++) flat += index[i]! * strides[perm[i]!]!;
              return k.values[flat] ?? null;
            },
          ),
        );
      }
    },
  ],

  [
    ['Squeeze'],
    (c) => {
      const x = c.shape(0);
      const t = c.elem(0);
      const axes = c.opset < 13 ? c.ints('axes') : c.has(1) ? c.numbers(1) : undefined;
      if (!x || (c.opset >= 13 && c.has(1) && !axes)) {
        const count = c.shape(1)?.[0];
        return c.set(
          0,
          t,
          x && isNum(count) && count <= x.length ? unknownDims(x.length - count) : undefined,
        );
      }
      let out: Dim[];
      if (axes && axes.length > 0) {
        const drop = new Set(axes.map((a) => axisOf(a, x.length)));
        out = x.filter((_, i) => !drop.has(i));
      } else {
        if (x.some((d) => d === null)) return c.set(0, t, undefined);
        out = x.filter((d) => d !== 1);
      }
      c.set(0, t, out);
      const k = c.constant(0);
      if (k && isStaticShape(out)) c.setConstant(0, { ...k, dims: out });
    },
  ],

  [
    ['Unsqueeze'],
    (c) => {
      const x = c.shape(0);
      const t = c.elem(0);
      const axes = c.opset < 13 ? c.ints('axes') : c.numbers(1);
      if (!x || !axes) {
        const count = c.shape(1)?.[0];
        return c.set(
          0,
          t,
          x && isNum(count) && count <= CONSTANT_LIMIT ? unknownDims(x.length + count) : undefined,
        );
      }
      const rank = x.length + axes.length;
      const inserted = new Set(axes.map((a) => axisOf(a, rank)));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(inserted.has(i) ? 1 : (x[j++] ?? null));
      c.set(0, t, out);
      const k = c.constant(0);
      if (k && isStaticShape(out)) c.setConstant(0, { ...k, dims: out });
    },
  ],

  [
    ['DepthToSpace', 'SpaceToDepth'],
    (c) => {
      const x = c.shape(0);
      const b = c.int('blocksize', 1);
      if (x?.length !== 4) return c.set(0, c.elem(0), x && unknownDims(x.length));
      const [n, ch, h, w] = x as [Dim, Dim, Dim, Dim];
      const scale = (d: Dim, f: number) => (isNum(d) ? dimOf(d * f) : null);
      if (c.node.opType === 'DepthToSpace')
        c.set(0, c.elem(0), [n, scale(ch, 1 / (b * b)), scale(h, b), scale(w, b)]);
      else c.set(0, c.elem(0), [n, scale(ch, b * b), scale(h, 1 / b), scale(w, 1 / b)]);
    },
  ],

  [
    ['Shape'],
    (c) => {
      const x = c.shape(0);
      if (!x) return c.set(0, DataType.INT64, [null]);
      const r = x.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const start = clamp(c.int('start', 0));
      const end = clamp(c.int('end', r));
      const values = x.slice(start, Math.max(start, end));
      c.setConstant(0, { dtype: DataType.INT64, dims: [values.length], values });
    },
  ],

  [
    ['Size'],
    (c) => {
      const x = c.shape(0);
      c.set(0, DataType.INT64, []);
      const n = x ? dimProduct(x) : null;
      if (n !== null) c.setConstant(0, { dtype: DataType.INT64, dims: [], values: [n] });
    },
  ],

  [
    ['ConstantOfShape'],
    (c) => {
      const value = c.node.attributes.get('value')?.t;
      const t = value?.dtype ?? DataType.FLOAT;
      const dims = c.dims(0);
      if (!dims) {
        const n = c.shape(0)?.[0];
        return c.set(0, t, isNum(n) && n <= CONSTANT_LIMIT ? unknownDims(n) : undefined);
      }
      const shape = dims.map((d) => (isNum(d) ? dimOf(d) : d));
      c.set(0, t, shape);
      if (!isStaticShape(shape)) return;
      const fill = value ? (tensorConstant(value)?.values[0] ?? null) : 0;
      c.setConstant(
        0,
        buildConstant(t, shape, () => fill),
      );
    },
  ],

  [
    ['Constant'],
    (c) => {
      const a = c.node.attributes;
      const tensor = a.get('value')?.t;
      if (tensor) {
        c.set(0, tensor.dtype, [...tensor.dims]);
        c.setConstant(0, tensorConstant(tensor));
      } else if (a.has('value_float'))
        c.setConstant(0, { dtype: DataType.FLOAT, dims: [], values: [c.float('value_float', 0)] });
      else if (a.has('value_floats')) {
        const v = c.floats('value_floats') ?? [];
        c.setConstant(0, { dtype: DataType.FLOAT, dims: [v.length], values: [...v] });
      } else if (a.has('value_int'))
        c.setConstant(0, { dtype: DataType.INT64, dims: [], values: [c.int('value_int', 0)] });
      else if (a.has('value_ints')) {
        const v = c.ints('value_ints') ?? [];
        c.setConstant(0, { dtype: DataType.INT64, dims: [v.length], values: v });
      } else if (a.has('value_string')) c.set(0, DataType.STRING, []);
      else if (a.has('value_strings'))
        c.set(0, DataType.STRING, [a.get('value_strings')!.proto.strings.length]);
      else if (a.has('sparse_value')) {
        const sp = a.get('sparse_value')!.proto.sparseTensor;
        if (sp) c.set(0, sp.values?.dataType ?? 0, sp.dims.map(Number));
      }
    },
  ],

  [['Det'], (c) => c.set(0, c.elem(0), c.shape(0)?.slice(0, -2))],

  [
    ['Range'],
    (c) => {
      const [start, limit, delta] = [c.numbers(0)?.[0], c.numbers(1)?.[0], c.numbers(2)?.[0]];
      const t = c.elem(0) || c.elem(1);
      if (start === undefined || limit === undefined || delta === undefined || delta === 0)
        return c.set(0, t, [null]);
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      c.set(0, t, [dimOf(n)]);
      if (n <= CONSTANT_LIMIT)
        c.setConstant(0, {
          dtype: t,
          dims: [n],
          values: Array.from({ length: n }, (_, i) => start + i * delta),
        });
    },
  ],
];
