// lift-constants: Constant nodes become initializers of their graph.
//  1. Constant(value=T | value_float | value_floats | value_int | value_ints) -> initializer T
//  2. sparse_value and string forms stay (no pass needs them as initializers)
//  3. a Constant that is a graph output stays: an initializer cannot be renamed into that role safely
// Why: weights held in Constant nodes (TensorFlow and PaddlePaddle exports) are then seen, folded,
// quantized and pruned like any other weight.

import { definePass, noOptions, result } from '../pass.js';
import { constantNodeTensor } from '../util.js';

export const liftConstants = definePass({
  id: 'lift-constants',
  summary: 'turn Constant nodes into initializers',
  lossless: true,
  options: noOptions,
  apply(model, _options, ctx) {
    let lifted = 0;
    for (const graph of model.graph.allGraphs()) {
      for (const node of [...graph.nodes]) {
        if (
          node.opType !== 'Constant' ||
          (node.domain !== '' && node.domain !== 'ai.onnx') ||
          !ctx.selects(node)
        )
          continue;
        const out = node.outputs[0];
        if (!out || out.isGraphOutput) continue; // rule 3
        const tensor = constantNodeTensor(node); // rules 1, 2
        if (!tensor) continue;
        graph.removeNode(node, true);
        out.producer = undefined;
        out.producerIndex = -1;
        const lifted_ = tensor.clone(out.name);
        graph.addInitializer(out, lifted_);
        out.setType({ elemType: lifted_.dtype, shape: [...lifted_.dims] });
        lifted++;
      }
    }
    return result({ lifted });
  },
});
