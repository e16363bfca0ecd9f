// Transport sizes: what a user downloads (file, gzip, brotli). Node only (zlib).
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export interface SizeResult {
  bytes: number;
  gzipBytes: number;
  brotliBytes: number;
}

export function transportSizes(bytes: Uint8Array): SizeResult {
  return {
    bytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    brotliBytes: brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length,
  };
}
