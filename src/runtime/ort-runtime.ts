// A Runtime over any onnxruntime-common implementation (onnxruntime-node or onnxruntime-web): both
// expose the same InferenceSession and Tensor API, so only the module differs.

import type * as ortCommon from 'onnxruntime-common';
import { EdgefitError, errorLine } from '../errors.js';
import { DataType } from '../onnx/dtype.js';
import type { HostTensor, Runtime, Session, SessionOptions } from './types.js';

type Ort = Pick<typeof ortCommon, 'InferenceSession' | 'Tensor'>;

const ORT_TYPE: Record<number, ortCommon.Tensor.Type> = {
  [DataType.FLOAT]: 'float32',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.UINT16]: 'uint16',
  [DataType.INT16]: 'int16',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.STRING]: 'string',
  [DataType.BOOL]: 'bool',
  [DataType.FLOAT16]: 'float16',
  [DataType.DOUBLE]: 'float64',
  [DataType.UINT32]: 'uint32',
  [DataType.UINT64]: 'uint64',
  [DataType.INT4]: 'int4',
  [DataType.UINT4]: 'uint4',
};

const FROM_ORT: Record<string, number> = Object.fromEntries(
  Object.entries(ORT_TYPE).map(([k, v]) => [v, Number(k)]),
);

export function ortTypeOf(dtype: number): ortCommon.Tensor.Type {
  const t = ORT_TYPE[dtype];
  if (!t) throw new EdgefitError('UNSUPPORTED', `ONNX Runtime has no tensor type for data type ${dtype}`);
  return t;
}

export function toOrtTensor(ort: Ort, t: HostTensor): ortCommon.Tensor {
  const type = ortTypeOf(t.dtype);
  let data = t.data as ortCommon.Tensor.DataType;
  // ORT's bool and float16 tensors want Uint8Array / Uint16Array; those are what HostTensor keeps
  if (type === 'float16' && !(data instanceof Uint16Array))
    data = new Uint16Array((data as Uint8Array).buffer);
  return new ort.Tensor(type, data as never, t.dims);
}

export function fromOrtTensor(t: ortCommon.Tensor): HostTensor {
  const dtype = FROM_ORT[t.type];
  if (dtype === undefined) throw new Error(`unsupported ORT output type ${t.type}`);
  let data = t.data as HostTensor['data'];
  if (t.type === 'bool' && !(data instanceof Uint8Array))
    data = Uint8Array.from(data as unknown as ArrayLike<number>);
  if (t.type === 'float16' && !(data instanceof Uint16Array))
    data = new Uint16Array(
      (data as unknown as ArrayBufferView).buffer,
      (data as unknown as ArrayBufferView).byteOffset,
      t.size,
    );
  return { dtype, dims: [...t.dims], data };
}

/** ORT's load errors as one user-facing line. */
export function describeOrtError(e: unknown): string {
  return errorLine(e);
}

export class OrtRuntime implements Runtime {
  constructor(
    readonly name: 'node' | 'web',
    private readonly ort: Ort,
    private readonly readTrace?: (prefix: string) => unknown[] | undefined,
  ) {}

  async createSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<Session> {
    const opts: ortCommon.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: options.optimization ?? 'all',
      executionMode: 'sequential',
      logSeverityLevel: 4,
    };
    if (options.profilePrefix) {
      opts.enableProfiling = true;
      opts.profileFilePrefix = options.profilePrefix;
    }
    if (options.config) {
      const extra: Record<string, Record<string, string>> = {};
      for (const [key, value] of Object.entries(options.config)) {
        const [head, ...rest] = key.split('.');
        extra[head!] ??= {};
        extra[head!]![rest.join('.')] = value;
      }
      opts.extra = extra;
    }
    if (options.externalData) opts.externalData = options.externalData as never;
    let session: ortCommon.InferenceSession;
    try {
      session =
        typeof model === 'string'
          ? await this.ort.InferenceSession.create(model, opts)
          : await this.ort.InferenceSession.create(model, opts);
    } catch (e) {
      throw new EdgefitError(
        'BAD_MODEL',
        `ONNX Runtime cannot load the model: ${describeOrtError(e)}`,
        'check that the model is valid for ONNX Runtime 1.30',
      );
    }
    const ort = this.ort;
    const readTrace = this.readTrace;
    const prefix = options.profilePrefix;
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      async run(feeds, outputNames) {
        const ortFeeds: Record<string, ortCommon.Tensor> = {};
        for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(ort, v);
        const result = outputNames
          ? await session.run(ortFeeds, outputNames as string[])
          : await session.run(ortFeeds);
        const out: Record<string, HostTensor> = {};
        for (const [k, v] of Object.entries(result)) {
          out[k] = fromOrtTensor(v);
        }
        return out;
      },
      async endProfiling() {
        await session.endProfiling();
        return prefix && readTrace ? readTrace(prefix) : undefined;
      },
      async release() {
        await session.release();
      },
    };
  }
}
