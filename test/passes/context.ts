// The PassContext tests hand to passes they call directly: what runPasses gives a pass (onnxruntime-node,
// calibration collection over it, ORT matrix products), a silent or recording log, every node selected.

import type { Dataset } from '../../src/data/dataset.js';
import { Rng } from '../../src/kernels/random.js';
import type { PassContext } from '../../src/passes/pass.js';
import { bindCollect } from '../../src/runtime/collect.js';
import { nodeRuntime } from '../../src/runtime/node.js';
import { OrtMatMul } from '../../src/runtime/ort-matmul.js';

export function passContext(calibration?: Dataset): PassContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    log: { info() {}, warn: (m) => warnings.push(m) },
    rng: new Rng(0),
    runtime: nodeRuntime,
    calibration,
    collect: calibration ? bindCollect(nodeRuntime, calibration) : undefined,
    matmul: () => new OrtMatMul(nodeRuntime),
    selects: () => true,
  };
}
