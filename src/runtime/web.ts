// The onnxruntime-web Runtime (WASM backend) for the browser app; it also runs under Node, which is how
// the tests check that both runtimes agree. Single-threaded unless the page is cross-origin isolated
// and the host asks for threads (setThreads: the app's worker does when crossOriginIsolated is true).

import * as ort from 'onnxruntime-web/wasm';
import { OrtRuntime } from './ort-runtime.js';
import type { Runtime } from './types.js';

ort.env.wasm.numThreads = 1;

/** Point ORT at its .wasm files when they are served from elsewhere (e.g. a bundler's asset URL). */
export function setWasmPaths(paths: string | Record<string, string>): void {
  ort.env.wasm.wasmPaths = paths as never;
}

/**
 * The size of ORT's wasm thread pool; set before the first session (ORT reads it once). More than
 * one needs SharedArrayBuffer, i.e. a cross-origin isolated page (COOP/COEP headers).
 */
export function setThreads(n: number): void {
  ort.env.wasm.numThreads = Math.max(1, Math.floor(n));
}

export const webRuntime: Runtime = new OrtRuntime('web', ort);
