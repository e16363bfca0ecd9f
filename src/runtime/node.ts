// The onnxruntime-node Runtime (CLI and library on Node).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EdgefitError } from '../errors.js';
import { OrtRuntime } from './ort-runtime.js';
import type { Runtime } from './types.js';

/** ORT writes `<prefix>_<date>_<time>.json`; read the newest such trace. */
function readTrace(prefix: string): unknown[] | undefined {
  const dir = dirname(prefix);
  const base = basename(prefix);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files.length) return undefined;
  return JSON.parse(readFileSync(files[0]!, 'utf8')) as unknown[];
}

/**
 * onnxruntime-node is an optional dependency (its installer fetches GPU binaries from outside the npm
 * registry and may fail): load it on first use, so everything that needs no runtime works without it.
 */
async function loadOrt(): Promise<Runtime> {
  let ort: typeof import('onnxruntime-node');
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      throw new EdgefitError(
        'UNSUPPORTED',
        'onnxruntime-node is not installed',
        'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node',
      );
    throw new EdgefitError(
      'UNSUPPORTED',
      `onnxruntime-node is installed but cannot load: ${(e as Error).message.split('\n')[0]}`,
      'reinstall it with ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node',
    );
  }
  // ORT's own environment logger prints kernel errors that edgefit already reports as one line
  ort.env.logLevel = 'fatal';
  return new OrtRuntime('node', ort, readTrace);
}

let loaded: Promise<Runtime> | undefined;

export const nodeRuntime: Runtime = {
  name: 'node',
  async createSession(model, options) {
    loaded ??= loadOrt();
    return (await loaded).createSession(model, options);
  },
};
