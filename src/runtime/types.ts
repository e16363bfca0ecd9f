// The Runtime interface: what edgefit needs from an inference engine. Two implementations sit
// behind subpath modules (node.ts: onnxruntime-node, web.ts: onnxruntime-web's WASM build) so
// importing the core never pulls in a native addon.

import type { HostTensor } from '../ir/host-tensor.js';

export type { HostTensor };

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** intra-op threads (default 1: this is what edgefit's measurements assume) */
  threads?: number;
  /** ORT graph optimization level (default 'all') */
  optimization?: OptimizationLevel;
  /** enable ORT's profiler (node: writes a trace file with this prefix) */
  profilePrefix?: string;
  /** session config entries, e.g. { 'session.x64quantprecision': '1' } */
  config?: Record<string, string>;
  /** external data files for a model given as bytes: location -> bytes */
  externalData?: { path: string; data: Uint8Array }[];
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Record<string, HostTensor>,
    outputNames?: readonly string[],
  ): Promise<Record<string, HostTensor>>;
  /** stop profiling; returns the Chrome-trace events when the runtime can give them */
  endProfiling(): Promise<unknown[] | undefined>;
  release(): Promise<void>;
}

export interface Runtime {
  readonly name: 'node' | 'web';
  /** a model given as bytes, or (node only) as a path whose external data is resolved beside it */
  createSession(model: Uint8Array | string, options?: SessionOptions): Promise<Session>;
}
