// Sparse-stored weights while training. encode-sparse (passes/sparse/) stores a mostly-zero weight as
// values + uint8 gaps expanded by Reshape(ScatterElements(ConstantOfShape, CumSum(Cast(gaps)), values)),
// which ORT folds at load. For training:
//  1. exposeSparse: each such expansion is replaced by a dense initializer holding the same tensor
//     (float, or integer behind a DequantizeLinear): the step graph trains it like any pruned weight,
//     its zeros kept by the mask (step-graph.ts rule 2), so the sparsity pattern cannot change.
//  2. restoreSparse: after training, each exposed weight is stored sparse again when that still saves
//     bytes (sparse-storage.ts rule 3), under the same names encode-sparse gives.

import { type Model, Value } from '../ir/graph.js';
import { readSparse, worthSparse, writeSparse } from '../passes/sparse/sparse-storage.js';
import { removeUnused } from '../passes/util.js';

/** Rule 1, in place; returns the names of the dense initializers that stand for sparse weights. */
export function exposeSparse(model: Model): string[] {
  const names: string[] = [];
  for (const g of model.graph.allGraphs()) {
    const found = g.nodes
      .filter((n) => n.domain === '' && n.opType === 'Reshape')
      .map((n) => ({ out: n.outputs[0]!, sparse: readSparse(n.outputs[0]!) }))
      .filter((f) => f.sparse && f.out.uses.length && !f.out.isGraphOutput);
    for (const { out, sparse } of found) {
      const { tensor } = sparse!;
      const name = model.uniqueName(out.name.replace(/_reshape(_\d+)?$/, ''));
      const dense = g.addInitializer(
        new Value(g, name, { elemType: tensor.dtype, shape: [...tensor.dims] }),
        tensor.clone(name),
      );
      out.replaceAllUsesWith(dense);
      names.push(name);
    }
    if (found.length) removeUnused(g); // the expansions' nodes and constants
  }
  return names;
}

/** Rule 2, in place; returns how many were stored sparse again. */
export function restoreSparse(model: Model, names: string[]): number {
  const opset = model.opset('') ?? 0;
  const wanted = new Set(names);
  let done = 0;
  for (const g of model.graph.allGraphs())
    for (const v of [...g.initializers]) {
      const t = v.initializer!;
      if (!wanted.has(v.name) || !worthSparse(t, opset)) continue;
      v.replaceAllUsesWith(writeSparse(g, v.name, t));
      g.removeInitializer(v);
      done++;
    }
  return done;
}
