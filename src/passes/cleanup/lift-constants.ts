// lift-constants: Constant nodes become initializers of their graph.
//  1. Constant(value=T | value_float | value_floats | value_int | value_ints) -> initializer T
//  2. sparse_value and string forms stay (no pass needs them as initializers)
//  3. a Constant that is a graph output stays: an initializer cannot be renamed into that role safely
// Why: weights held in Constant nodes (TensorFlow and PaddlePaddle exports) are then seen, folded,
// quantized and pruned like any other weight.

import { defineNodeRewrite } from '../pass.js';
import { constantNodeTensor } from '../util.js';

export const liftConstants = defineNodeRewrite({
  id: 'lift-constants',
  summary: 'turn Constant nodes into initializers',
  rewrite(node, graph) {
    if (node.opType !== 'Constant' || (node.domain !== '' && node.domain !== 'ai.onnx')) return undefined;
    const out = node.outputs[0];
    if (!out || out.isGraphOutput) return undefined; // rule 3
    const tensor = constantNodeTensor(node); // rules 1, 2
    if (!tensor) return undefined;
    graph.removeNode(node, true);
    out.producer = undefined;
    out.producerIndex = -1;
    const lifted = tensor.clone(out.name);
    graph.addInitializer(out, lifted);
    out.setType({ elemType: lifted.dtype, shape: [...lifted.dims] });
    return 'lifted';
  },
});
