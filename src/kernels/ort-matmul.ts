// ONNX Runtime's matrix kernels, from our side: (1) big float32 products through ORT — a plain
// TypeScript loop is about 100× slower than ORT's MatMul on a CPU (DESIGN.md "Numerics") — and (2) the
// weight layout of its com.microsoft MatMulNBits kernel (packMatMulNBits, below).
// (1) One tiny Gemm model per attribute set (transA, alpha, beta, with or without C) is built with the
// IR builder, loaded once and cached:  Y = alpha · op(A) · B + beta · C,  op(A) = Aᵀ when transA, all
// dims symbolic, so any sizes run through the same session. Used for XᵀX (GPTQ's Hessian) and GPTQ's
// lazy updates.

import { GraphBuilder, newModel } from '../ir/builder.js';
import { encodeModel } from '../ir/serialize.js';
import { DataType } from '../onnx/dtype.js';
import type { Runtime, Session } from '../runtime/types.js';
import type { QuantizedMatrix } from './gptq.js';

export interface GemmOptions {
  transA?: boolean;
  alpha?: number;
  beta?: number;
  /** added as beta · C; shape [rows of op(A), columns of B] */
  c?: Float32Array;
}

function gemmModelBytes(transA: boolean, alpha: number, beta: number, withC: boolean): Uint8Array {
  const m = newModel({ '': 13 });
  const b = new GraphBuilder(m.graph);
  const a = b.input('A', { elemType: DataType.FLOAT, shape: ['a0', 'a1'] });
  const bb = b.input('B', { elemType: DataType.FLOAT, shape: ['b0', 'b1'] });
  const c = withC ? b.input('C', { elemType: DataType.FLOAT, shape: ['c0', 'c1'] }) : undefined;
  const y = b.op(
    'Gemm',
    [a, bb, c],
    { transA: transA ? 1 : 0, alpha, beta },
    { floatAttrs: ['alpha', 'beta'] },
  );
  y.name = 'Y';
  y.setType({ elemType: DataType.FLOAT, shape: ['y0', 'y1'] });
  b.output(y);
  return encodeModel(m);
}

/** Cached ORT sessions for float32 Gemm. Call release() when done. */
export class OrtMatMul {
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(
    private readonly runtime: Runtime,
    private readonly threads = 1,
  ) {}

  private session(transA: boolean, alpha: number, beta: number, withC: boolean): Promise<Session> {
    const key = `${transA}|${alpha}|${withC ? beta : 0}|${withC}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = this.runtime.createSession(gemmModelBytes(transA, alpha, withC ? beta : 0, withC), {
        threads: this.threads,
        optimization: 'basic',
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** alpha · op(a) · b + beta · c; a [aDims], b [bDims] row-major; returns [rows of op(a), bDims[1]]. */
  async gemm(
    a: Float32Array,
    aDims: [number, number],
    b: Float32Array,
    bDims: [number, number],
    options: GemmOptions = {},
  ): Promise<Float32Array> {
    const transA = options.transA ?? false;
    const rows = transA ? aDims[1] : aDims[0];
    const inner = transA ? aDims[0] : aDims[1];
    if (inner !== bDims[0]) throw new Error(`gemm: inner dims differ (${inner} vs ${bDims[0]})`);
    const session = await this.session(
      transA,
      options.alpha ?? 1,
      options.beta ?? 1,
      options.c !== undefined,
    );
    const feeds = {
      A: { dtype: DataType.FLOAT, dims: [...aDims], data: a },
      B: { dtype: DataType.FLOAT, dims: [...bDims], data: b },
      ...(options.c ? { C: { dtype: DataType.FLOAT, dims: [rows, bDims[1]], data: options.c } } : {}),
    };
    const out = await session.run(feeds, ['Y']);
    return out.Y!.data as Float32Array;
  }

  /** xᵀx for x [rows, cols]: [cols, cols]. */
  gram(x: Float32Array, rows: number, cols: number): Promise<Float32Array> {
    return this.gemm(x, [rows, cols], x, [rows, cols], { transA: true });
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }
}

// (2)
/**
 * com.microsoft MatMulNBits inputs (ORT.md §3.2) with block size `bs` (a power of 2 >= 16 that divides
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
