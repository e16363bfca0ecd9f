// Datasets (.npy, .npz, IDX, decoded image folders) and evaluation metrics. Platform-neutral: everything works on bytes the
// caller has read.

export { decodeIdx, type ImagePreprocess, idxImagesToTensor } from './idx.js';
export { type ImageInput, type ImageLayout, imageDataset, imageInput } from './images.js';
export {
  AccuracyAccumulator,
  type AccuracyResult,
  agreement,
  argmax,
  cosine,
  FidelityAccumulator,
  type FidelityResult,
  type Labels,
  maxAbsError,
  type Scores,
  sqnr,
  topK,
} from './metrics.js';
export {
  decodeNpy,
  dtypeSize,
  encodeNpy,
  type NdArray,
  type NdArrayDataTypes,
  type NdArrayOf,
  type NdDtype,
  shapeSize,
  toFloat32,
} from './npy.js';
export { decodeNpz, encodeNpz } from './npz.js';
