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
export { type FinetuneOptions, finetune, finetuneOptions } from './node/finetune.js';
export {
  FileExternalData,
  loadModel,
  pendingTempFiles,
  removeStaleTemps,
  saveModel,
  saveModelAsync,
} from './node/model-io.js';
export {
  type ReportJson,
  type ReportOptions,
  report,
  reportOptions,
  writeReportHtml,
} from './node/report.js';
export { folderCache, search } from './node/search.js';
export { transportSizes } from './node/sizes.js';
export { nodeRuntime } from './runtime/node.js';
