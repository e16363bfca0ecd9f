// dead-code: remove what no graph output depends on.
//  1. a node none of whose outputs is read or is a graph output (custom-domain nodes are kept)
//  2. an initializer nothing reads (unless it is a graph input or output)
//  3. value_info entries of values that no longer exist
// Runs in every graph, innermost first, so a subgraph's dead nodes go before its parent is judged.

import { definePass, noOptions, result } from '../pass.js';
import { removeUnused } from '../util.js';

export const deadCode = definePass({
  id: 'dead-code',
  summary: 'remove nodes and initializers that no output depends on',
  lossless: true,
  options: noOptions,
  apply(model) {
    let nodes = 0;
    let initializers = 0;
    let valueInfos = 0;
    const graphs = [...model.graph.allGraphs()].reverse();
    for (const g of graphs) {
      const r = removeUnused(g); // rules 1, 2
      nodes += r.nodes;
      initializers += r.initializers;
      const alive = new Set(g.nodes.flatMap((n) => n.outputs));
      for (let i = g.valueInfos.length - 1; i >= 0; i--) {
        const v = g.valueInfos[i]!;
        if (v.producer && !alive.has(v)) {
          g.valueInfos.splice(i, 1); // rule 3
          valueInfos++;
        }
      }
    }
    return result({ nodes, initializers, valueInfos });
  },
});
