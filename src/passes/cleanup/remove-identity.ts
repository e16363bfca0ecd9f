// remove-identity: nodes that pass their input through unchanged.
//  1. Identity(x) -> x
//  2. Dropout(x) in inference mode -> x, when its mask output is unused (opset < 12: is_test or any
//     ratio, since inference runtimes ignore it; opset >= 12: training_mode absent or constant false)
//  3. Cast(x, to=T) where x already has type T -> x
//  4. Transpose(x, perm=identity) -> x
//  5. Reshape(x, shape) where x's static shape already equals the constant target -> x
//  6. Squeeze/Unsqueeze with constant empty axes... are not no-ops (they squeeze all 1-dims): kept
// A node whose output is a graph output is removed only if its input can take over the name.

import { attrInt, attrInts } from '../../ir/builder.js';
import type { Node } from '../../ir/graph.js';
import { defineNodeRewrite } from '../pass.js';
import { bypassNode, constantOf } from '../util.js';

function isInferenceDropout(n: Node): boolean {
  if (n.outputs[1] && (n.outputs[1].uses.length > 0 || n.outputs[1].isGraphOutput)) return false;
  const training = n.inputs[2];
  if (!training) return true;
  const t = constantOf(training);
  return t?.toFloat32().every((x) => x === 0) === true;
}

function staticShape(n: Node, i: number): number[] | undefined {
  const s = n.inputs[i]?.type?.shape;
  return s?.every((d) => typeof d === 'number') ? (s as number[]) : undefined;
}

function isNoOp(n: Node): boolean {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return false;
  switch (n.opType) {
    case 'Identity':
      return true;
    case 'Dropout':
      return isInferenceDropout(n);
    case 'Cast': {
      const from = n.inputs[0]?.type?.elemType;
      return from !== undefined && from === attrInt(n, 'to');
    }
    case 'Transpose': {
      const perm = attrInts(n, 'perm');
      return perm?.every((p, i) => p === i) === true;
    }
    case 'Reshape': {
      const shape = staticShape(n, 0);
      const target = constantOf(n.inputs[1]);
      if (!shape || !target) return false;
      const t = target.toNumbers();
      // 0 copies the input dim (unless allowzero), -1 is inferred: a no-op only if every entry is explicit and equal
      return (
        t.length === shape.length &&
        t.every((d, i) => d === shape[i] || (d === 0 && attrInt(n, 'allowzero', 0) === 0))
      );
    }
    default:
      return false;
  }
}

export const removeIdentity = defineNodeRewrite({
  id: 'remove-identity',
  summary: 'remove Identity, inference Dropout and no-op Cast/Transpose/Reshape',
  rewrite: (node) => (isNoOp(node) && bypassNode(node, 0) ? node.opType : undefined),
});
