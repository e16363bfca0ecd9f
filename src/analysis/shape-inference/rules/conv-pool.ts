// Rules for sliding-window ops: convolutions (Conv, ConvTranspose, quantized variants), pooling,
// unpooling, ROI pooling and grid sampling.

import type { Dim } from '../../../ir/graph.js';
import { DataType } from '../../../onnx/dtype.js';
import type { Rule, RuleContext, RuleRow } from '../context.js';
import { dimOf, isNum, unknownDims } from '../dims.js';

interface WindowAttributes {
  kernel: Dim[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
  ceilMode: boolean;
}

function windowAttributes(c: RuleContext, kernel: Dim[]): WindowAttributes {
  const n = kernel.length;
  return {
    kernel,
    strides: c.ints('strides') ?? new Array(n).fill(1),
    dilations: c.ints('dilations') ?? new Array(n).fill(1),
    pads: c.ints('pads') ?? new Array(2 * n).fill(0),
    autoPad: c.str('auto_pad', 'NOTSET'),
    ceilMode: c.int('ceil_mode', 0) === 1,
  };
}

/** Spatial output dims of a sliding window (Conv, pooling). */
function windowOutput(spatial: Dim[], w: WindowAttributes): Dim[] {
  const n = spatial.length;
  return spatial.map((input, i) => {
    const k = w.kernel[i];
    const s = w.strides[i] ?? 1;
    const d = w.dilations[i] ?? 1;
    if (!isNum(input)) return w.autoPad.startsWith('SAME') && s === 1 ? input : null;
    if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') return dimOf(Math.ceil(input / s));
    if (!isNum(k)) return null;
    const effective = (k - 1) * d + 1;
    const begin = w.autoPad === 'VALID' ? 0 : (w.pads[i] ?? 0);
    const end = w.autoPad === 'VALID' ? 0 : (w.pads[i + n] ?? 0);
    const span = input + begin + end - effective;
    if (span < 0) return null;
    if (!w.ceilMode) return dimOf(Math.floor(span / s) + 1);
    let out = Math.ceil(span / s) + 1;
    // the last window must start inside the input or the left padding
    if ((out - 1) * s >= input + begin) out--;
    return dimOf(out);
  });
}

export function convRule(wIndex: number, elemType: (c: RuleContext) => number): Rule {
  return (c) => {
    const x = c.shape(0);
    const w = c.shape(wIndex);
    const rank = x?.length ?? w?.length;
    if (rank === undefined) return c.set(0, elemType(c), undefined);
    const kernel: Dim[] = c.ints('kernel_shape') ?? w?.slice(2) ?? unknownDims(rank - 2);
    const spatial = x ? windowOutput(x.slice(2), windowAttributes(c, kernel)) : unknownDims(rank - 2);
    c.set(0, elemType(c), [x?.[0] ?? null, w?.[0] ?? null, ...spatial]);
  };
}

export const convPoolRules: RuleRow[] = [
  [['Conv'], convRule(1, (c) => c.elem(0))],
  [['ConvInteger'], convRule(1, () => DataType.INT32)],
  [['QLinearConv'], convRule(3, (c) => c.elem(7) || c.elem(0))],

  [
    ['ConvTranspose'],
    (c) => {
      const x = c.shape(0);
      const w = c.shape(1);
      const rank = x?.length ?? w?.length;
      if (rank === undefined) return c.set(0, c.elem(0), undefined);
      const n = rank - 2;
      const group = c.int('group', 1);
      const channels = isNum(w?.[1]) ? w[1] * group : null;
      const given = c.ints('output_shape');
      if (given)
        return c.set(0, c.elem(0), [
          x?.[0] ?? null,
          channels,
          ...(given.length === rank ? given.slice(2) : given),
        ]);
      const kernel: Dim[] = c.ints('kernel_shape') ?? w?.slice(2) ?? unknownDims(n);
      const a = windowAttributes(c, kernel);
      const outputPadding = c.ints('output_padding') ?? new Array(n).fill(0);
      const spatial = (x?.slice(2) ?? unknownDims(n)).map((input, i) => {
        const k = kernel[i];
        const s = a.strides[i] ?? 1;
        if (!isNum(input)) return null;
        if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') return dimOf(input * s);
        if (!isNum(k)) return null;
        const pads = a.autoPad === 'VALID' ? 0 : (a.pads[i] ?? 0) + (a.pads[i + n] ?? 0);
        return dimOf(s * (input - 1) + (outputPadding[i] ?? 0) + (k - 1) * (a.dilations[i] ?? 1) + 1 - pads);
      });
      c.set(0, c.elem(0), [x?.[0] ?? null, channels, ...spatial]);
    },
  ],

  [
    ['MaxPool', 'AveragePool', 'LpPool'],
    (c) => {
      const x = c.shape(0);
      const kernel = c.ints('kernel_shape');
      const shape =
        x && kernel
          ? [x[0]!, x[1]!, ...windowOutput(x.slice(2), windowAttributes(c, kernel))]
          : x && unknownDims(x.length);
      c.set(0, c.elem(0), shape);
      c.set(1, DataType.INT64, shape);
    },
  ],

  [
    ['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'],
    (c) => {
      const x = c.shape(0);
      c.set(
        0,
        c.elem(0),
        x?.map((d, i) => (i < 2 ? d : 1)),
      );
    },
  ],

  [
    ['MaxRoiPool'],
    (c) => {
      const pooled = c.ints('pooled_shape') ?? [null, null];
      c.set(0, c.elem(0), [c.shape(1)?.[0] ?? null, c.shape(0)?.[1] ?? null, ...pooled]);
    },
  ],

  [
    ['RoiAlign'],
    (c) => {
      c.set(0, c.elem(0), [
        c.shape(1)?.[0] ?? null,
        c.shape(0)?.[1] ?? null,
        c.int('output_height', 1),
        c.int('output_width', 1),
      ]);
    },
  ],

  [
    ['MaxUnpool'],
    (c) => {
      const x = c.shape(0);
      if (c.has(2)) return c.set(0, c.elem(0), c.numbers(2) ?? (x && unknownDims(x.length)));
      const kernel = c.ints('kernel_shape');
      if (!x || !kernel) return c.set(0, c.elem(0), x && unknownDims(x.length));
      const a = windowAttributes(c, kernel);
      const n = kernel.length;
      const spatial = x
        .slice(2)
        .map((d, i) =>
          isNum(d)
            ? dimOf((d - 1) * (a.strides[i] ?? 1) + kernel[i]! - (a.pads[i] ?? 0) - (a.pads[i + n] ?? 0))
            : null,
        );
      c.set(0, c.elem(0), [x[0]!, x[1]!, ...spatial]);
    },
  ],

  [
    ['GridSample'],
    (c) => {
      const x = c.shape(0);
      const grid = c.shape(1);
      if (!grid) return c.set(0, c.elem(0), x && unknownDims(x.length));
      c.set(0, c.elem(0), [grid[0] ?? x?.[0] ?? null, x?.[1] ?? null, ...grid.slice(1, -1)]);
    },
  ],

  [
    ['AffineGrid'],
    (c) => {
      const size = c.dims(1);
      if (!size) return c.set(0, c.elem(0), undefined);
      c.set(0, c.elem(0), [size[0]!, ...size.slice(2), size.length - 2]);
    },
  ],
];
