// The onnxruntime-node Runtime (CLI and library on Node).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
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

// ORT's own environment logger prints kernel errors that edgefit already reports as one line
ort.env.logLevel = 'fatal';

export const nodeRuntime: Runtime = new OrtRuntime('node', ort, readTrace);
