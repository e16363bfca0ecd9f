// quantize-fp16: store (and, in 'graph' mode, type) a float32 model as float16, the way
// onnxconverter-common's float16 / ORT's transformers float16 do (docs/ORT.md §4.1), but with every edge
// type-consistent and every Cast placed in topological order. On x86 and WASM, ORT has almost no fp16
// compute kernels. It casts fp16 nodes back to float when it loads the model (docs/ORT.md §1.6, §4.2), so
// this pass makes the file smaller, not faster. 'weights' mode says so openly: it stores the weights as
// fp16 and puts a Cast(to=FLOAT) after each one. ORT folds those Casts at load, so the model runs at
// fp32 speed and is half the size (§8.5).
//
// 'graph' mode:
//  1. A node stays float32 ("blocked") when an enclosing If/Loop/Scan is blocked; the step's node selector
//     does not pick it; `blockOps` names its op ("Op", "domain::Op", "domain::*", "*::*" = any domain but
//     ai.onnx); `exclude` names it (name glob or op type); a tensor it reads or writes has an unknown
//     type (sequences, ops shape inference does not know); it reads a constant with a finite
//     |x| > 65504 (fp16 would turn it into Inf: "overflow"); or it writes a float tensor without reading
//     one and is not a generator (Constant, ConstantOfShape, Cast, EyeLike, Random*, If/Loop/Scan).
//     Every other node is converted.
//  2. A float32 value's storage: main-graph inputs stay float32 while keepIoTypes; subgraph inputs follow
//     their If/Loop/Scan; outputs of blocked nodes are float32; outputs of converted nodes are float16,
//     except outputs typed by an attribute (LayerNormalization's Mean/InvStdDev follow stash_type);
//     weights, Constant and Cast(to=FLOAT) outputs are float16 when some reader wants float16 (a weight
//     with overflow, or one that a float32 graph output returns, stays float32).
//  3. What a reader wants: Cast/CastLike/Shape/Size input 0 accepts any type; a blocked node wants float32;
//     a converted node wants float16, except at inputs the spec types as float only (Resize `scales`).
//     Graph outputs want what rule 2 gives their graph's inputs.
//  4. When storage and want differ, a Cast goes right after the producer (at the top of the graph for
//     inputs and weights). There is one Cast per value and target type. A main-graph output keeps its name:
//     its producer writes `<name>_fp16` (`_fp32` when blocked) and the Cast writes `<name>`.
//  5. Values round to nearest even. 0 < |x| < 2^-24 becomes ±2^-24, not 0 (ORT's min_positive_val).
//     The node's attributes are converted with it: Cast `to`, ConstantOfShape `value`, Constant
//     `value`/`value_float(s)`, and the `dtype` of EyeLike and Random*.
//  6. Every declared tensor(float) type that became float16 is rewritten. This covers value_info and the
//     inputs and outputs of subgraphs.
// 'weights' mode:
//  7. A float32 weight (an initializer or a Constant) is stored as float16 and read through
//     Cast(to=FLOAT) placed right after it, when:
//     - it has at least MIN_WEIGHT_ELEMENTS elements (for smaller tensors the Cast costs more bytes than it
//       saves),
//     - its values are in the fp16 range,
//     - it is not a graph output,
//     - every node that reads it could be converted by rule 1's user choices (selector, blockOps,
//       exclude), and none reads it at a float-only input.
//     Activations, inputs and outputs stay float32.
// Rule 1's tables and the float16 conversion of tensors: fp16-rules.ts; 'graph' mode: fp16-graph.ts;
// 'weights' mode: fp16-weights.ts.

import { z } from 'zod';
import { EdgefitError } from '../../errors.js';
import { modelCounts } from '../../ir/stats.js';
import { definePass, type PassResult } from '../pass.js';
import { unmatchedExcludes } from '../reasons.js';
import { convertGraph } from './fp16-graph.js';
import { type Tally, words } from './fp16-rules.js';
import { convertWeights } from './fp16-weights.js';

/**
 * Ops kept float32 by default (rule 1). Some of them follow ORT's DEFAULT_OP_BLOCK_LIST, which is what
 * users of its converter expect. Others are there because the ONNX type constraints leave no float16, or
 * because an attribute sets the output type.
 */
export const DEFAULT_BLOCK_OPS: readonly string[] = [
  // Any op outside ai.onnx (ai.onnx.ml, com.microsoft, custom): type rules and kernels we cannot check.
  '*::*',
  // The spec offers no float16 here: Range (T excludes float16), NonMaxSuppression (boxes and thresholds
  // are float only), TfIdfVectorizer (output is float only), Upsample (deprecated; scales are float only),
  // CumSum (no float16 before opset 14).
  ...words('Range NonMaxSuppression TfIdfVectorizer Upsample CumSum'),
  // Sampling and windows. An attribute picks the output type, and fp16 sampling changes the distribution.
  ...words('RandomNormal RandomUniform RandomNormalLike RandomUniformLike Bernoulli Multinomial'),
  ...words('HannWindow HammingWindow BlackmanWindow MelWeightMatrix'),
  // Quantization: scales are float32 only before opset 19/21.
  ...words('QuantizeLinear DequantizeLinear DynamicQuantizeLinear QLinearConv QLinearMatMul'),
  // ORT's converter keeps these float: fp16 kernels that are missing or inaccurate.
  ...words('TopK RoiAlign Min Max'),
  // ORT 1.30's CPU provider has no float16 kernel (or type support) for these — found by running the
  // ONNX backend test corpus through this pass (test/corpus/quantize-corpus.ts).
  ...words('Celu IsInf IsNaN EyeLike MeanVarianceNormalization'),
];

const options = z
  .object({
    mode: z
      .enum(['graph', 'weights'])
      .default('graph')
      .describe("'graph': compute in float16 where types allow; 'weights': fp16 weights + Cast (fp32 speed)"),
    keepIoTypes: z
      .boolean()
      .default(true)
      .describe('graph mode: main-graph float inputs and outputs stay float32 behind Casts'),
    blockOps: z
      .array(z.string())
      .default([...DEFAULT_BLOCK_OPS])
      .describe('op types kept float32: "Op", "domain::Op", "domain::*", "*::*" (every op outside ai.onnx)'),
    exclude: z
      .array(z.string())
      .default([])
      .describe('node names (globs, "/encoder/*") or op types to keep float32'),
  })
  .strict();

export type Fp16Options = z.infer<typeof options>;

export const quantizeFp16 = definePass({
  id: 'quantize-fp16',
  summary:
    'float16 weights (and activations in graph mode); on ORT CPU/WASM this halves the size, not the time',
  lossless: false,
  options,
  searchSpace: { mode: ['weights', 'graph'] },
  apply(model, options, ctx): PassResult {
    for (const w of unmatchedExcludes('quantize-fp16', model, options.exclude)) ctx.log.warn(w);
    const opset = model.opset('') ?? 0;
    if (opset < 6)
      throw new EdgefitError(
        'UNSUPPORTED',
        `fp16 conversion needs ai.onnx opset >= 6 (the model has ${opset}; Cast took a string type before)`,
        'convert the model to a newer opset first',
      );
    const weightBytesBefore = modelCounts(model).weightBytes;
    const tally: Tally = { tensorsConverted: 0, subnormalValues: 0 };
    const counts =
      options.mode === 'weights'
        ? convertWeights(model, options, ctx, tally)
        : convertGraph(model, options, ctx, tally);
    const weightBytesAfter = modelCounts(model).weightBytes;
    const { reasons, ...numbers } = counts;
    const stats = { ...numbers, ...reasons, ...tally, weightBytesBefore, weightBytesAfter };
    const what =
      options.mode === 'weights'
        ? `${tally.tensorsConverted} weights float16`
        : `${counts.convertedNodes} nodes float16, ${counts.blockedNodes} kept float32`;
    ctx.log.info(
      `quantize-fp16 (${options.mode}): ${what}, ${counts.castsInserted} casts, ` +
        `weights ${weightBytesBefore} -> ${weightBytesAfter} bytes`,
    );
    const changed = tally.tensorsConverted + counts.castsInserted + counts.convertedNodes > 0;
    return { changed, stats };
  },
});
