// Rules for ops that grow or shrink dims by a count or a factor: Expand, Tile, Pad, CenterCropPad,
// Resize and Upsample. Expand and Tile also evaluate constant inputs.

import { broadcastRead, buildConstant, stridesOf } from '../constants.js';
import type { RuleRow } from '../context.js';
import { axisOf, broadcastShapes, dimOf, isNum, isStaticShape, unknownDims } from '../dims.js';
import { CONSTANT_LIMIT } from '../types.js';

export const resizePadRules: RuleRow[] = [
  [
    ['Expand'],
    (c) => {
      const x = c.shape(0);
      const target = c.dims(1);
      if (!target) {
        const n = c.shape(1)?.[0];
        const rank = x && isNum(n) ? Math.max(x.length, n) : undefined;
        return c.set(
          0,
          c.elem(0),
          rank !== undefined && rank <= CONSTANT_LIMIT ? unknownDims(rank) : undefined,
        );
      }
      const out = broadcastShapes([x, target]);
      c.set(0, c.elem(0), out);
      const k = c.constant(0);
      if (k && out && isStaticShape(out)) {
        const strides = stridesOf(k.dims);
        c.setConstant(
          0,
          buildConstant(k.dtype, out, (index) => broadcastRead(k, strides, index)),
        );
      }
    },
  ],

  [
    ['Tile'],
    (c) => {
      const x = c.shape(0);
      const repeats = c.numbers(1);
      if (!x) return c.set(0, c.elem(0), undefined);
      if (!repeats) return c.set(0, c.elem(0), unknownDims(x.length));
      const out = x.map((d, i) => (repeats[i] === 1 ? d : isNum(d) ? dimOf(d * (repeats[i] ?? 1)) : null));
      c.set(0, c.elem(0), out);
      const k = c.constant(0);
      if (k && isStaticShape(out)) {
        const strides = stridesOf(k.dims);
        c.setConstant(
          0,
          buildConstant(
            k.dtype,
            out,
            (index) => k.values[index.reduce((s, v, i) => s + (v % k.dims[i]!) * strides[i]!, 0)] ?? null,
          ),
        );
      }
    },
  ],

  [
    ['Pad'],
    (c) => {
      const x = c.shape(0);
      if (!x) return c.set(0, c.elem(0), undefined);
      const pads = c.opset < 11 ? (c.ints('pads') ?? c.ints('paddings')) : c.numbers(1);
      if (!pads) return c.set(0, c.elem(0), unknownDims(x.length));
      const axes = c.opset >= 18 && c.has(3) ? c.numbers(3) : x.map((_, i) => i);
      if (!axes) return c.set(0, c.elem(0), unknownDims(x.length));
      const out = [...x];
      axes.forEach((a, j) => {
        const axis = axisOf(a, x.length);
        if (axis === undefined) return;
        const d = out[axis]!;
        const extra = (pads[j] ?? 0) + (pads[j + axes.length] ?? 0);
        out[axis] = extra === 0 ? d : isNum(d) ? dimOf(d + extra) : null;
      });
      c.set(0, c.elem(0), out);
    },
  ],

  [
    ['CenterCropPad'],
    (c) => {
      const x = c.shape(0);
      const size = c.dims(1);
      if (!x) return c.set(0, c.elem(0), undefined);
      const axes = c.ints('axes') ?? x.map((_, i) => i);
      const out = [...x];
      axes.forEach((a, j) => {
        const axis = axisOf(a, x.length);
        if (axis !== undefined) out[axis] = size?.[j] ?? null;
      });
      c.set(0, c.elem(0), out);
    },
  ],

  [
    ['Resize', 'Upsample'],
    (c) => {
      const x = c.shape(0);
      const t = c.elem(0);
      if (!x) return c.set(0, t, undefined);
      const rank = x.length;
      const axes = (c.ints('axes') ?? x.map((_, i) => i)).map((a) => axisOf(a, rank));
      let scales: number[] | undefined;
      let sizes: number[] | undefined;
      if (c.node.opType === 'Upsample' && c.opset < 9) scales = c.floats('scales');
      else if (c.node.opType === 'Upsample' || c.opset < 11) scales = c.numbers(1);
      else {
        sizes = c.has(3) ? c.numbers(3) : undefined;
        scales = c.has(2) ? c.numbers(2) : undefined;
        if (sizes?.length === 0) sizes = undefined;
        if (scales?.length === 0) scales = undefined;
        if (!sizes && !scales && (c.has(2) || c.has(3))) return c.set(0, t, unknownDims(rank));
      }
      const out = [...x];
      if (sizes) {
        const policy = c.str('keep_aspect_ratio_policy', 'stretch');
        if (policy === 'stretch') {
          axes.forEach((a, j) => {
            if (a !== undefined) out[a] = sizes![j] ?? null;
          });
        } else {
          const ratios = axes.map((a, j) =>
            a !== undefined && isNum(x[a]) ? sizes![j]! / x[a] : Number.NaN,
          );
          const scale = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
          for (const a of axes)
            if (a !== undefined) out[a] = isNum(x[a]) ? dimOf(Math.floor(scale * x[a] + 0.5)) : null;
        }
      } else if (scales) {
        const crop =
          c.str('coordinate_transformation_mode', '') === 'tf_crop_and_resize' ? c.numbers(1) : undefined;
        axes.forEach((a, j) => {
          if (a === undefined) return;
          const d = x[a]!;
          const s = scales![j] ?? 1;
          const roi = crop ? crop[j + axes.length]! - crop[j]! : 1;
          out[a] = s === 1 && roi === 1 ? d : isNum(d) ? dimOf(Math.floor(d * roi * s)) : null;
        });
      } else return c.set(0, t, unknownDims(rank));
      c.set(0, t, out);
    },
  ],
];
