// quantize-weight-int8: int8 weight-only quantization of MatMul/Gemm, per output channel (or per
// tensor): 8-bit MatMulNBits by default, or int8 + DequantizeLinear -> MatMul ('qdq'); Conv weights
// optionally as int8 + DequantizeLinear (a smaller file, not a faster model). Rules: weight-only.ts.

import { z } from 'zod';
import type { WeightScheme } from '../../kernels/block-quant.js';
import { definePass } from '../pass.js';
import { upgradeBlocker, upgradeOpset } from './opset.js';
import { dqInputs } from './qdq.js';
import { accuracyLevel, formatOption, gptqOptions, minElements, Rewriter } from './weight-only.js';

/** MatMulNBits block for a per-channel 8-bit matrix: the fewest bytes (scales repeat; the last block pads). */
function int8Block(K: number): number {
  const bytes = (bs: number) => Math.ceil(K / bs) * (bs + 4);
  return [16, 32, 64, 128, 256].reduce((best, bs) => (bytes(bs) < bytes(best) ? bs : best));
}

const options = z
  .object({
    perTensor: z
      .boolean()
      .default(false)
      .describe('one scale per weight tensor instead of per output channel'),
    format: formatOption,
    accuracyLevel,
    minElements,
    conv: z
      .boolean()
      .default(false)
      .describe('also quantize Conv weights as int8 + DequantizeLinear (a smaller file, not faster)'),
    ...gptqOptions,
  })
  .strict();

export const quantizeWeightInt8 = definePass({
  id: 'quantize-weight-int8',
  summary: 'int8 weight-only quantization of MatMul/Gemm (8-bit MatMulNBits, or DQ -> MatMul)',
  lossless: false,
  encodings: 'native',
  options,
  searchSpace: { perTensor: [false, true] },
  async apply(model, options, ctx) {
    const rw = new Rewriter(ctx);
    rw.codebooks(model, 'quantize-weight-int8');
    const lins = rw.linears(model, options.minElements, (l) => l.node.inputs[0]?.type?.shape?.length !== 1);
    let convs = options.conv ? rw.convs(model, options.minElements) : [];
    // DequantizeLinear: per axis from opset 13, per tensor from 10
    let dqPerChannel = !options.perTensor;
    if ((options.format === 'qdq' || convs.length) && dqPerChannel && upgradeOpset(model, 13) === undefined) {
      ctx.log.warn(
        `quantize-weight-int8: per-channel DQ needs opset 13 (${upgradeBlocker(model, 13)}); using per-tensor`,
      );
      dqPerChannel = false;
    }
    let format = options.format;
    if ((format === 'qdq' || convs.length) && upgradeOpset(model, 10) === undefined) {
      ctx.log.warn(
        `quantize-weight-int8: DQ needs opset 10 (${upgradeBlocker(model, 10)}); MatMulNBits, Conv float`,
      );
      format = 'matmulnbits';
      convs = [];
    }
    if (options.algorithm === 'gptq' && lins.length) await rw.startGptq(model, lins, options);
    const perTensor = format === 'qdq' ? !dqPerChannel : options.perTensor;
    const scheme: WeightScheme = { bits: 8, blockSize: Number.MAX_SAFE_INTEGER, symmetric: true, perTensor };
    for (const lin of lins) {
      if (format === 'matmulnbits') {
        await rw.matMulNBits(lin, lins, scheme, int8Block(lin.K), options.accuracyLevel);
        continue;
      }
      const g = lin.node.graph;
      const vs = await rw.weights(lin, lins, scheme, (qm) =>
        dqInputs(g, lin.weight.name, qm, [lin.K, lin.N], [lin.N]),
      );
      rw.dqMatMul(lin, vs, perTensor ? {} : { axis: 1 });
    }
    return rw.end(
      model,
      convs,
      { ...scheme, perTensor: !dqPerChannel },
      'quantize-weight-int8',
      options,
      'int8 + DequantizeLinear',
    );
  },
});
