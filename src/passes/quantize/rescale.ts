// Per-channel rescaling of a constant input, for the passes that move scale between layers
// (cross-layer-equalization: a Conv's bias; smooth-quant: a LayerNorm's gamma and beta). The input
// becomes a new weight (the old one may be shared, so it is never edited in place).

import type { Node } from '../../ir/graph.js';
import { constantOf, replaceInputWeight } from '../util.js';

/** Input `index` of `node` divided by s, element c by s[c]; false when it is absent or not constant. */
export function divideInput(node: Node, index: number, s: ArrayLike<number>, suffix: string): boolean {
  const t = constantOf(node.inputs[index]);
  if (!t) return false;
  replaceInputWeight(
    node,
    index,
    t.dims,
    t.toFloat32().map((x, c) => x / s[c]!),
    suffix,
  );
  return true;
}
