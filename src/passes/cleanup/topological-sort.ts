// topological-sort: order every graph's nodes so each runs after what it reads (stable: nodes already
// in order keep their relative order). The ONNX spec requires it; some exporters and edits break it.

import { topologicalOrder } from '../../ir/verify.js';
import { definePass, noOptions, result } from '../pass.js';

export const topologicalSortPass = definePass({
  id: 'topological-sort',
  summary: 'sort nodes topologically',
  lossless: true,
  options: noOptions,
  apply(model) {
    let moved = 0;
    for (const g of model.graph.allGraphs()) {
      const order = topologicalOrder(g);
      if (!order) continue; // a cycle: the verifier reports it
      if (order.some((n, i) => g.nodes[i] !== n)) {
        moved += order.filter((n, i) => g.nodes[i] !== n).length;
        g.nodes.splice(0, g.nodes.length, ...order);
      }
    }
    return result({ moved });
  },
});
