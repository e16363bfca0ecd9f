// The weight layout of ONNX Runtime's com.microsoft MatMulNBits kernel: int4/int8 codes of a
// quantized [K, N] matrix packed column by column into blocks of bytes, with the scales and zero points
// in the order the kernel reads them.

import type { QuantizedMatrix } from './block-quant.js';

/**
 * com.microsoft MatMulNBits inputs (docs/ORT.md §3.2) with block size `bs` (a power of 2 >= 16 that divides
 * the matrix's own block size, or any when the matrix is per channel / per tensor: its scales are then
 * repeated per block). B uint8 [N, kBlocks, bs·bits/8]: element k of column n at byte
 * n·kBlocks·blob + ⌊k/bs⌋·blob + ⌊(k mod bs)·bits/8⌋, low bits first (4-bit: even k in the low nibble);
 * codes stored unsigned: symmetric ones shifted by 2^(bits-1), the kernel's zero point when none is
 * given. scales [N, kBlocks]; zero points uint8 [N, ⌈kBlocks/2⌉] packed like B (asymmetric 4-bit only).
 */
export function packMatMulNBits(
  qm: QuantizedMatrix,
  bs = qm.blockSize,
): { b: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array | undefined; kBlocks: number } {
  const { K, N, bits, codes, zeroPoints } = qm;
  if (qm.kBlocks > 1 && qm.blockSize % bs !== 0) throw new Error('packMatMulNBits: block sizes do not nest');
  const kBlocks = Math.ceil(K / bs);
  const colBytes = (kBlocks * bs * bits) / 8;
  const shift = zeroPoints ? 0 : 1 << (bits - 1);
  const b = new Uint8Array(N * colBytes);
  // blocks of a column are consecutive, so column n is just its K codes packed from byte n·colBytes:
  // a transpose of codes [K, N], done in 64×64 tiles to stay in cache. Symmetric 8-bit reads four
  // columns per 32-bit load; code + 128 as a byte is the two's complement byte ^ 0x80.
  const c32 =
    bits === 8 && shift === 128 && N % 4 === 0 && codes.byteOffset % 4 === 0
      ? new Int32Array(codes.buffer, codes.byteOffset, (K * N) >> 2)
      : undefined;
  for (let n0 = 0; n0 < N; n0 += 64)
    for (let k0 = 0; k0 < K; k0 += 64) {
      const n1 = Math.min(N, n0 + 64);
      const k1 = Math.min(K, k0 + 64);
      let n = n0;
      if (c32)
        for (; n + 3 < n1; n += 4) {
          const col = n * colBytes;
          for (let k = k0; k < k1; k++) {
            const v = c32[(k * N + n) >> 2]!;
            b[col + k] = v ^ 0x80;
            b[col + colBytes + k] = (v >> 8) ^ 0x80;
            b[col + 2 * colBytes + k] = (v >> 16) ^ 0x80;
            b[col + 3 * colBytes + k] = (v >> 24) ^ 0x80;
          }
        }
      for (; n < n1; n++) {
        const col = n * colBytes;
        if (bits === 8) for (let k = k0; k < k1; k++) b[col + k] = codes[k * N + n]! + shift;
        else for (let k = k0; k < k1; k++) b[col + (k >> 1)] |= (codes[k * N + n]! + shift) << ((k & 1) * 4);
      }
    }
  // block e of the output covers rows [e·bs, (e+1)·bs): its parameters are those of the matrix's block
  const src = (e: number) => Math.floor((e * bs) / qm.blockSize) * N;
  const scales = new Float32Array(N * kBlocks);
  for (let e = 0; e < kBlocks; e++)
    for (let n = 0; n < N; n++) scales[n * kBlocks + e] = qm.scales[src(e) + n]!;
  let zp: Uint8Array | undefined;
  if (zeroPoints) {
    const zpBytes = Math.ceil(kBlocks / 2);
    zp = new Uint8Array(N * zpBytes);
    for (let n = 0; n < N; n++)
      for (let e = 0; e < kBlocks; e++)
        zp[n * zpBytes + (e >> 1)] |= zeroPoints[src(e) + n]! << ((e & 1) * 4);
  }
  return { b, scales, zeroPoints: zp, kBlocks };
}
