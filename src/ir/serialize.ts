// bytes <-> IR. Decoding keeps raw_data as zero-copy views into the input buffer. Encoding returns a
// list of chunks: the main graph's large initializers are framed by hand and their bytes appended as
// they are, so saving a 500 MB model never builds a second 500 MB buffer (protobuf-es would).

import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { EdgefitError } from '../errors.js';
import { GraphProtoSchema, ModelProtoSchema, TensorProtoSchema } from '../onnx/gen/onnx_pb.js';
import {
  concatChunks,
  countModelNodes,
  lengthDelimitedHeader,
  PROTOBUF_LIMIT,
  totalLength,
} from '../onnx/wire.js';
import { modelFromProto } from './from-proto.js';
import type { Model } from './graph.js';
import { type ExternalDataSource, tensorToProto } from './tensor-proto.js';
import { graphToProto, modelToProto, type TensorPlacement } from './to-proto.js';

export interface DecodeOptions {
  external?: ExternalDataSource | undefined;
  /** refuse models with more nodes than this, counted before decoding (default MAX_NODES; 0: no limit) */
  maxNodes?: number | undefined;
}

/**
 * The most nodes (main graph and subgraphs) a model may have: past it, decoding, verification, shape
 * inference and the passes take minutes and gigabytes (a 250,000-node chain: 14 s and 0.9 GB to
 * inspect, 60 s and 2.6 GB to slim), so such a model is refused up front with a clear message.
 */
export const MAX_NODES = 200_000;

export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): Model {
  if (bytes.length === 0)
    throw new EdgefitError('BAD_MODEL', 'the model file is empty', 'pass an .onnx model file');
  // a Node Buffer's subarray/slice semantics differ from Uint8Array's: work on a plain view
  if (!(Object.getPrototypeOf(bytes) === Uint8Array.prototype))
    bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const maxNodes = options.maxNodes ?? MAX_NODES;
  if (maxNodes > 0) {
    const nodes = countModelNodes(bytes);
    if (nodes !== undefined && nodes > maxNodes)
      throw new EdgefitError(
        'UNSUPPORTED',
        `the model has ${nodes} nodes, more than the ${maxNodes} edgefit handles in reasonable time and memory`,
        'set EDGEFIT_MAX_NODES to a higher limit (0: none) to try anyway',
      );
  }
  let proto: ReturnType<typeof fromBinary<typeof ModelProtoSchema>>;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new EdgefitError(
      'BAD_MODEL',
      `not a valid ONNX model (protobuf decoding failed: ${why})`,
      'pass an .onnx model file; the file may be truncated or corrupt',
    );
  }
  if (!proto.graph || proto.irVersion <= 0n)
    throw new EdgefitError(
      'BAD_MODEL',
      proto.graph
        ? 'not a valid ONNX model (ir_version is missing)'
        : 'not a valid ONNX model (it holds no graph)',
      'pass an .onnx model file',
    );
  return modelFromProto(proto, options.external);
}

/** Initializers of at least this many bytes are appended as separate chunks. */
const CHUNK_THRESHOLD = 4096;

export interface EncodeOptions {
  place?: TensorPlacement;
}

/** Encode to a list of byte chunks whose concatenation is the model file. */
export function encodeModelChunks(model: Model, options: EncodeOptions = {}): Uint8Array[] {
  const place: TensorPlacement = options.place ?? (() => ({}));
  const graphProto = graphToProto(model.graph, place, { omitInitializers: true });
  const graphChunks: Uint8Array[] = [toBinary(GraphProtoSchema, graphProto)];
  for (const v of model.graph.initializers) {
    const t = v.initializer!;
    const where = place(t);
    const inlineBig = !where.external && !t.isString && t.byteLength >= CHUNK_THRESHOLD;
    const head = toBinary(TensorProtoSchema, tensorToProto(t, { ...where, omitRawData: inlineBig }));
    if (inlineBig) {
      const raw = t.bytes();
      const rawHeader = lengthDelimitedHeader(9, raw.length);
      const len = head.length + rawHeader.length + raw.length;
      graphChunks.push(lengthDelimitedHeader(5, len), head, rawHeader, raw);
    } else {
      graphChunks.push(lengthDelimitedHeader(5, head.length), head);
    }
  }
  const modelHead = toBinary(ModelProtoSchema, modelToProto(model, { omitGraph: true }));
  return [modelHead, lengthDelimitedHeader(7, totalLength(graphChunks)), ...graphChunks];
}

/** Encode to one buffer; refuses models past protobuf's 2 GB limit (save them with external data). */
export function encodeModel(model: Model, options: EncodeOptions = {}): Uint8Array {
  const chunks = encodeModelChunks(model, options);
  const size = totalLength(chunks);
  if (size > PROTOBUF_LIMIT)
    throw new EdgefitError(
      'UNSUPPORTED',
      `the model needs ${size} bytes, past protobuf's 2 GB limit`,
      'save it to a file so its weights go to external data',
    );
  return concatChunks(chunks);
}
