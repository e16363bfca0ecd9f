// infer-shapes: annotate every value with its inferred type (symbolic dims stay symbolic), so the
// passes after it can check ranks and static shapes. Changes nothing a runtime sees: intermediate
// types live in the IR only (value_info entries are refined where inference knows more).

import { inferShapes } from '../../analysis/shape-inference.js';
import { definePass, noOptions } from '../pass.js';

export const inferShapesPass = definePass({
  id: 'infer-shapes',
  summary: 'infer value types and shapes (symbolic dims kept)',
  lossless: true,
  options: noOptions,
  apply(model) {
    const r = inferShapes(model, { defaultDim: null, write: true });
    return { changed: false, stats: { unknown: r.missing.length } };
  },
});
