// What ONNX Runtime really runs: load a model with profiling at optimization level 'all', run it a
// few times, and classify each kernel (after ORT's fusions) as int8 or float compute. This is how
// edgefit tells users whether a quantized model uses integer kernels (docs/ORT.md §6.2, §8.8).

import type { HostTensor, Runtime } from '../runtime/types.js';
import { parseProfile } from './benchmark.js';

export const INT8_KERNELS = new Set([
  'QLinearConv',
  'QLinearMatMul',
  'MatMulIntegerToFloat',
  'QGemm',
  'QLinearAdd',
  'QLinearMul',
  'QLinearSigmoid',
  'QLinearLeakyRelu',
  'QLinearAveragePool',
  'QLinearGlobalAveragePool',
  'QLinearSoftmax',
  'QLinearConcat',
  'QLinearWhere',
  'DynamicQuantizeMatMul',
  'DynamicQuantizeLSTM',
  'MatMulInteger',
  'ConvInteger',
  'MatMulNBits',
  'QAttention',
]);

export const FLOAT_COMPUTE = new Set([
  'Conv',
  'FusedConv',
  'NhwcFusedConv',
  'MatMul',
  'FusedMatMul',
  'Gemm',
  'FusedGemm',
  'ConvTranspose',
]);

export interface KernelReport {
  /** kernel -> count, as ORT ran them */
  kernels: Record<string, number>;
  /** nodes that ran an integer kernel (int8, or int4/int8 MatMulNBits) */
  integerNodes: string[];
  /** Conv/MatMul/Gemm-family nodes that ran in float */
  floatNodes: string[];
  /** QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear kernels left after fusion */
  qdqKernels: number;
}

export async function kernelReport(
  runtime: Runtime,
  model: Uint8Array | string,
  feeds: Record<string, HostTensor>,
  profilePrefix: string,
): Promise<KernelReport | undefined> {
  const session = await runtime.createSession(model, { threads: 1, profilePrefix });
  try {
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const events = await session.endProfiling();
    if (!events) return undefined;
    const { byNode } = parseProfile(events, 3);
    const kernels: Record<string, number> = {};
    const integerNodes: string[] = [];
    const floatNodes: string[] = [];
    let qdqKernels = 0;
    for (const n of byNode) {
      kernels[n.kernel] = (kernels[n.kernel] ?? 0) + 1;
      if (INT8_KERNELS.has(n.kernel)) integerNodes.push(n.node);
      else if (FLOAT_COMPUTE.has(n.kernel)) floatNodes.push(n.node);
      if (
        n.kernel === 'QuantizeLinear' ||
        n.kernel === 'DequantizeLinear' ||
        n.kernel === 'DynamicQuantizeLinear'
      )
        qdqKernels++;
    }
    return { kernels, integerNodes, floatNodes, qdqKernels };
  } finally {
    await session.release();
  }
}
