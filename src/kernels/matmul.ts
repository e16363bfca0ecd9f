// The matrix product that kernels use but do not implement. Big float32 products go through ONNX
// Runtime (runtime/ort-matmul.ts): a plain TypeScript loop is about 100× slower than ORT's MatMul on
// a CPU (docs/DESIGN.md "Numerics"). Kernels take the product as a parameter of these types, so they stay
// pure functions over typed arrays.

export interface GemmOptions {
  transA?: boolean;
  alpha?: number;
  beta?: number;
  /** added as beta · C; shape [rows of op(A), columns of B] */
  c?: Float32Array;
}

/** y = alpha · op(A) · B + beta · C for row-major float32 matrices; op(A) = Aᵀ when transA. */
export type GemmFn = (
  a: Float32Array,
  aDims: [number, number],
  b: Float32Array,
  bDims: [number, number],
  options?: GemmOptions,
) => Promise<Float32Array>;

/** A matrix-product engine holding resources (sessions): call release() when done. */
export interface MatMul {
  gemm: GemmFn;
  /** xᵀx for x [rows, cols]: [cols, cols] */
  gram(x: Float32Array, rows: number, cols: number): Promise<Float32Array>;
  release(): Promise<void>;
}
