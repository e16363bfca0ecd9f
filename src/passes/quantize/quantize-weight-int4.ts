// quantize-weight-int4: block-wise 4-bit weight-only quantization of MatMul/Gemm: MatMulNBits by
// default, or int4 + blocked DequantizeLinear -> MatMul ('qdq', opset 21); Conv weights optionally as
// per-channel int4 + DequantizeLinear (a smaller file, not a faster model). Rules: weight-only.ts.

import { z } from 'zod';
import type { WeightScheme } from '../../kernels/block-quant.js';
import { definePass } from '../pass.js';
import { upgradeBlocker, upgradeOpset } from './opset.js';
import { dqInputs } from './qdq.js';
import { accuracyLevel, formatOption, gptqOptions, minElements, Rewriter } from './weight-only.js';

const options = z
  .object({
    blockSize: z
      .number()
      .int()
      .min(16)
      .max(256)
      .refine((v) => (v & (v - 1)) === 0, 'must be a power of 2')
      .default(32)
      .describe('rows of K sharing a scale (a power of 2, 16 to 256)'),
    format: formatOption,
    accuracyLevel,
    symmetric: z.boolean().default(true).describe('no zero points (ORT MLAS symmetric grid)'),
    minElements,
    conv: z
      .boolean()
      .default(false)
      .describe(
        'also quantize Conv weights as per-channel int4 + DequantizeLinear (opset 21; a smaller file, not faster)',
      ),
    ...gptqOptions,
  })
  .strict();

export const quantizeWeightInt4 = definePass({
  id: 'quantize-weight-int4',
  summary: 'block-wise 4-bit weight-only quantization of MatMul/Gemm (MatMulNBits or blocked DQ -> MatMul)',
  lossless: false,
  encodings: 'native',
  options,
  searchSpace: { blockSize: [32, 128], algorithm: ['rtn', 'gptq'] },
  async apply(model, options, ctx) {
    const rw = new Rewriter(ctx);
    rw.codebooks(model, 'quantize-weight-int4');
    let convs = options.conv ? rw.convs(model, options.minElements) : [];
    let format = options.format;
    if ((format === 'qdq' || convs.length) && upgradeOpset(model, 21) === undefined) {
      const why = upgradeBlocker(model, 21);
      if (format === 'qdq')
        ctx.log.warn(`quantize-weight-int4: qdq needs opset 21 (${why}); using MatMulNBits`);
      if (convs.length)
        ctx.log.warn(`quantize-weight-int4: int4 Conv weights need opset 21 (${why}); left float`);
      format = 'matmulnbits';
      convs = [];
    }
    const lins = rw.linears(model, options.minElements, (l) => l.node.inputs[0]?.type?.shape?.length !== 1);
    if (options.algorithm === 'gptq' && lins.length) await rw.startGptq(model, lins, options);
    const scheme: WeightScheme = { bits: 4, blockSize: options.blockSize, symmetric: options.symmetric };
    for (const lin of lins) {
      const { node, K, N } = lin;
      const g = node.graph;
      const base = lin.weight.name;
      if (format === 'qdq') {
        const vs = await rw.weights(lin, lins, scheme, (qm) =>
          dqInputs(g, base, qm, [K, N], [qm.kBlocks, N]),
        );
        rw.dqMatMul(lin, vs, { axis: 0, block_size: options.blockSize });
        continue;
      }
      await rw.matMulNBits(lin, lins, scheme, options.blockSize, options.accuracyLevel);
    }
    return rw.end(
      model,
      convs,
      { ...scheme, blockSize: Number.MAX_SAFE_INTEGER },
      'quantize-weight-int4',
      options,
      'int4 + DequantizeLinear, opset 21',
    );
  },
});
