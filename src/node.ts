// edgefit on Node: model files with external data, datasets from files, onnxruntime-node, sizes.
export * from './index.js';
export {
  bench,
  cluster,
  compare,
  decompose,
  evaluate,
  type Hooks,
  inspect,
  optimize,
  prune,
  quantize,
  slim,
  transformFile,
} from './node/commands.js';
export { openDataset } from './node/data-files.js';
export { checkOutput, externalFiles, fileCounts, fileSink, fileSizes } from './node/files.js';
export { FileExternalData, loadModel, saveModel } from './node/model-io.js';
export { transportSizes } from './node/sizes.js';
export { nodeRuntime } from './runtime/node.js';
