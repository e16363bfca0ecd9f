// Transport sizes in the browser: gzip from fflate (level 9), brotli from brotli-wasm (quality 9, as
// src/node/sizes.ts asks node:zlib). brotli-wasm is the Rust port, not the C library node:zlib links:
// its sizes differ from the CLI's by a few hundred bytes in a million (bench/web.ts prints both).

import brotli from 'brotli-wasm';
import { gzipSync } from 'fflate';
import type { Sizer } from '../../src/index.js';

interface Brotli {
  compress(bytes: Uint8Array, options?: { quality?: number }): Uint8Array;
}

let ready: Promise<Sizer> | undefined;

export function brotliSizer(): Promise<Sizer> {
  // the package's web entry exports the module as a promise (its types describe the Node entry)
  ready ??= (brotli as unknown as Promise<Brotli>).then((b) => (bytes: Uint8Array) => ({
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    brotliBytes: b.compress(bytes, { quality: 9 }).length,
  }));
  return ready;
}
