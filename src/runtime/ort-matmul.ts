// Big float32 products through ONNX Runtime (the MatMul that kernels take as a parameter,
// kernels/matmul.ts): a plain TypeScript loop is about 100× slower than ORT's MatMul on a CPU
// (docs/DESIGN.md "Numerics"). One tiny Gemm model per attribute set (transA, alpha, beta, with or without
// C) is built with the IR builder, loaded once and cached:  Y = alpha · op(A) · B + beta · C,
// op(A) = Aᵀ when transA, all dims symbolic, so any sizes run through the same session. Used for XᵀX
// (GPTQ's Hessian) and GPTQ's lazy updates.

import { GraphBuilder, newModel } from '../ir/builder.js';
import { encodeModel } from '../ir/serialize.js';
import type { GemmOptions, MatMul } from '../kernels/matmul.js';
import { DataType } from '../onnx/dtype.js';
import type { Runtime, Session } from './types.js';

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
export class OrtMatMul implements MatMul {
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
