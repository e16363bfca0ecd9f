// What every transform command does around the engine, whatever the shell: measure the input, run
// the plan, write the result through a sink (a file on Node, bytes in the browser), measure what was
// written, add the command's own measurements, and return the versioned report.

import type { Model } from '../ir/graph.js';
import { encodeModel } from '../ir/serialize.js';
import { modelCounts } from '../ir/stats.js';
import { type Host, type TransformPlan, transformModel } from '../pipeline/transform.js';
import { SCHEMA_VERSION, type SideCounts, type TransformReport } from '../report/schema.js';

/** Transport sizes of a byte string; Node has brotli (zlib), a browser may not. */
export type Sizer = (bytes: Uint8Array) => { gzipBytes: number; brotliBytes: number };

/** A loadable model for ONNX Runtime: bytes, or (Node) a path with external data beside it. */
export type ModelSource = Uint8Array | string;

/** Where a transform's result goes, and how both sides are measured. */
export interface ModelSink {
  input: string;
  output: string;
  before: SideCounts;
  inputSource: ModelSource;
  save(model: Model): Promise<{ after: SideCounts; source: ModelSource }>;
}

export interface TransformCommand {
  command: string;
  plan: TransformPlan;
  /** the command's own measurements of the written result, merged into the report */
  extras?: (io: {
    input: ModelSource;
    output: ModelSource;
    original: Model;
    result: Model;
    before: SideCounts;
    after: SideCounts;
    warn: (message: string) => void;
  }) => Promise<Record<string, unknown>>;
}

/** Counts of a model whose encoded bytes (file plus external data) are `bytes`. */
export function sideCounts(model: Model, bytes: number, brotliBytes: number): SideCounts {
  const c = modelCounts(model);
  return {
    bytes,
    brotliBytes,
    params: c.params,
    weightBytes: c.weightBytes,
    nodes: c.nodes,
    opTypes: c.opTypes,
  };
}

export async function runTransformCommand(
  model: Model,
  cmd: TransformCommand,
  sink: ModelSink,
  host: Host,
): Promise<TransformReport> {
  const { model: result, passes, warnings } = await transformModel(model, cmd.plan, host);
  const saved = await sink.save(result);
  const before = { ...sink.before };
  const after = { ...saved.after };
  const warn = (m: string) => {
    warnings.push(m);
    host.log?.warn(m);
  };
  const extras = cmd.extras
    ? await cmd.extras({
        input: sink.inputSource,
        output: saved.source,
        original: model,
        result,
        before,
        after,
        warn,
      })
    : {};
  return {
    schemaVersion: SCHEMA_VERSION,
    command: cmd.command,
    input: sink.input,
    output: sink.output,
    before,
    after,
    passes,
    warnings,
    ...extras,
  };
}

/** A sink that keeps the result in memory as bytes (the core's byte functions, the web app). */
export function bytesSink(
  name: string,
  model: Model,
  inputBytes: Uint8Array,
  sizer: Sizer | undefined,
): ModelSink & { bytes?: Uint8Array } {
  const brotli = (b: Uint8Array) => (sizer ? sizer(b).brotliBytes : Number.NaN);
  const sink: ModelSink & { bytes?: Uint8Array } = {
    input: name,
    output: `${name.replace(/\.onnx$/, '')}.out.onnx`,
    before: sideCounts(model, inputBytes.length, brotli(inputBytes)),
    inputSource: inputBytes,
    async save(result) {
      const bytes = encodeModel(result);
      sink.bytes = bytes;
      return { after: sideCounts(result, bytes.length, brotli(bytes)), source: bytes };
    },
  };
  return sink;
}
