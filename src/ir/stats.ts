// Cheap whole-model counts: weights (initializers, Constant tensors, sparse initializers, in every
// graph), their bytes, and nodes by op type.

import type { Model } from './graph.js';

export interface ModelCounts {
  params: number;
  weightBytes: number;
  nodes: number;
  opTypes: Record<string, number>;
}

export function modelCounts(model: Model): ModelCounts {
  let params = 0;
  let weightBytes = 0;
  let nodes = 0;
  const opTypes: Record<string, number> = {};
  for (const g of model.graph.allGraphs()) {
    for (const v of g.initializers) {
      params += v.initializer!.size;
      if (!v.initializer!.isString) weightBytes += v.initializer!.byteLength;
    }
    for (const v of g.sparseInitializers) {
      const n = Number(v.sparse?.values?.dims[0] ?? 0);
      params += n;
    }
    for (const n of g.nodes) {
      nodes++;
      const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
      opTypes[key] = (opTypes[key] ?? 0) + 1;
      if (n.opType === 'Constant')
        for (const a of n.attributes.values())
          if (a.t) {
            params += a.t.size;
            if (!a.t.isString) weightBytes += a.t.byteLength;
          }
    }
  }
  return { params, weightBytes, nodes, opTypes };
}
