// fuse-matmul-add: MatMul + Add(bias) -> Gemm, where Gemm means the same thing.
//  1. MatMul(A, B) with A of rank 2 and B a constant [K, N] matrix
//  2. its output read only by one Add, whose other input is a constant of shape [N] or [1, N]
//  3. float32 (Gemm's bias broadcast is unidirectional to [M, N]; the result is identical)
// Why: one kernel instead of two, and QGemm/MatMulNBits patterns downstream see one node.

import type { Node } from '../../ir/graph.js';
import { DataType } from '../../onnx/dtype.js';
import { defineNodeRewrite } from '../pass.js';
import { constantOf, replaceValue } from '../util.js';

function fusable(mm: Node): { add: Node; biasIndex: number } | undefined {
  if (mm.opType !== 'MatMul' || mm.domain !== '') return undefined;
  const a = mm.inputs[0];
  const b = constantOf(mm.inputs[1]);
  if (a?.type?.shape?.length !== 2 || a.type.elemType !== DataType.FLOAT) return undefined; // rule 1, 3
  if (!b || b.dtype !== DataType.FLOAT || b.dims.length !== 2) return undefined;
  const out = mm.outputs[0]!;
  if (out.uses.length !== 1 || out.isGraphOutput) return undefined;
  const add = out.uses[0]!.node;
  if (add.opType !== 'Add' || add.domain !== '' || add.graph !== mm.graph) return undefined;
  const biasIndex = out.uses[0]!.index === 0 ? 1 : 0;
  const bias = constantOf(add.inputs[biasIndex]);
  const n = b.dims[1]!;
  const ok =
    bias &&
    bias.dtype === DataType.FLOAT &&
    ((bias.dims.length === 1 && bias.dims[0] === n) ||
      (bias.dims.length === 2 && bias.dims[0] === 1 && bias.dims[1] === n));
  return ok ? { add, biasIndex } : undefined; // rule 2
}

export const fuseMatMulAdd = defineNodeRewrite({
  id: 'fuse-matmul-add',
  summary: 'fuse MatMul + bias Add into Gemm',
  rewrite(mm, graph) {
    const f = fusable(mm);
    if (!f) return undefined;
    const sum = f.add.outputs[0]!;
    const mmOut = mm.outputs[0]!;
    // the Gemm takes over the Add's output (keeping its name when it is a graph output)
    mm.opType = 'Gemm';
    mm.addInput(f.add.inputs[f.biasIndex]);
    if (!replaceValue(sum, mmOut)) {
      mm.opType = 'MatMul';
      mm.truncateInputs(2);
      return undefined;
    }
    graph.removeNode(f.add, true);
    return 'fused';
  },
});
