// Sliding-window geometry shared by the Conv and pooling rules: kernel, strides, dilations and the
// explicit begin/end pads (auto_pad resolved), and the ConvTranspose that maps an output gradient back
// onto the input ("transposed window").

import { EdgefitError } from '../../errors.js';
import { attrString } from '../../ir/builder.js';
import type { Node, Value } from '../../ir/graph.js';
import { type GradContext, intsOr, type Shape } from '../context.js';

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  begin: number[];
  end: number[];
}

/** The window of a Conv/pool node over input spatial dims `spatial` (auto_pad resolved). */
export function windowOf(node: Node, spatial: Shape, kernel: number[]): Window {
  const r = spatial.length;
  const strides = intsOr(node, 'strides', Array(r).fill(1));
  const dilations = intsOr(node, 'dilations', Array(r).fill(1));
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  let begin: number[];
  let end: number[];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    begin = [];
    end = [];
    for (let i = 0; i < r; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
  } else if (autoPad === 'VALID') {
    begin = Array(r).fill(0);
    end = Array(r).fill(0);
  } else {
    const pads = intsOr(node, 'pads', Array(2 * r).fill(0));
    begin = pads.slice(0, r);
    end = pads.slice(r);
  }
  return { kernel, strides, dilations, begin, end };
}

/**
 * ConvTranspose of `dy` (output gradient, spatial `outSpatial`) with `weight`, cropped or zero-extended
 * to the input's spatial size: pads crop the window overhang, output_padding adds the input positions no
 * window reached (stride-2 convs on even sizes: 28 -> 14 needs output_padding 1).
 */
export function transposedWindow(
  ctx: GradContext,
  dy: Value,
  weight: Value,
  w: Window,
  inSpatial: Shape,
  outSpatial: Shape,
  group: number,
): Value {
  const end: number[] = [];
  const outputPadding: number[] = [];
  for (let i = 0; i < inSpatial.length; i++) {
    const full = (outSpatial[i]! - 1) * w.strides[i]! + (w.kernel[i]! - 1) * w.dilations[i]! + 1;
    const extra = full - w.begin[i]! - inSpatial[i]!;
    end.push(Math.max(0, extra));
    outputPadding.push(Math.max(0, -extra));
  }
  return ctx.op('ConvTranspose', [dy, weight], {
    kernel_shape: w.kernel,
    strides: w.strides,
    dilations: w.dilations,
    pads: [...w.begin, ...end],
    output_padding: outputPadding,
    group,
  });
}

/** Only 1-D and 2-D windows (the weight gradient uses a window of rank + 1). */
export function checkSpatial(node: Node, rank: number): void {
  if (rank < 1 || rank > 2)
    throw new EdgefitError(
      'UNSUPPORTED',
      `cannot fine-tune through ${node.opType} ${node.name}: ${rank}-D windows have no gradient rule (1-D and 2-D do)`,
    );
}
