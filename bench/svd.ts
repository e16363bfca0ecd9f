// Truncated SVD (kernels/svd, products on ONNX Runtime) against scikit-learn's randomized_svd(M, 128)
// with its defaults, both sides in one run, on the same float32 4096×1024 matrix:
//  - M = U·diag(σ)·Vᵀ with Haar-random U [4096, 1024], V [1024, 1024] (numpy QR of Gaussians), stored
//    as float32; spectra `power` σ_i = 1/(1 + i) (slow decay, as trained weights have) and `exp`
//    σ_i = exp(−i/64) (fast decay); the truth is numpy.linalg.svd of the stored float32 matrix in float64
//  - scikit-learn 1.2.1 (bench/anchor.ts: Debian's /usr/bin/python3, numpy 1.24, OpenBLAS on both
//    cores, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for the anchor only); only randomized_svd is timed
//    (float32 in, as weights are: scikit-learn then computes in float32)
//  - edgefit: truncatedSvdAsync(M, 4096, 1024, 128) with its defaults (scikit-learn's: 10 oversamples,
//    n_iter 'auto' = 4 here, a re-normalisation after every product) and the products on OrtMatMul with
//    one intra-op thread, as the passes run it (--threads 2: OrtMatMul's sessions keep ORT's default
//    spin-waiting, so the idle pool thread competes with the TypeScript steps on a 2-core machine)
//  - each side runs once untimed first (seed 100): scikit-learn in the same process before its timed
//    call, edgefit before the rounds (its ORT sessions and the JIT; a pass pays that once per model)
//  - three rounds alternate the sides (seeds 0, 1, 2 on both); times are medians; accuracy is the
//    relative error |s_i − σ_i| / σ_i of the top singular values against the truth: the largest over
//    the 128 returned and over the top 10, median of the three rounds
// Prints both sides, the time ratio (edgefit / scikit-learn, <= 1.5 is the goal) and the error ratios
// (edgefit / scikit-learn, <= 1 means edgefit's values are as accurate or better).
// Run: npx tsx bench/svd.ts [--spectra power,exp] [--threads 1] [--oversample 10]

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, toFloat32 } from '../src/data/npy.js';
import { truncatedSvdAsync } from '../src/kernels/svd.js';
import { nodeRuntime } from '../src/runtime/node.js';
import { OrtMatMul } from '../src/runtime/ort-matmul.js';
import { runAnchor } from './anchor.js';

const M = 4096;
const N = 1024;
const RANK = 128;
const ROUNDS = 3;

const SCRIPT = `
mode = sys.argv[1]
if mode == "make":
    m, n, kind, out, truth = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((m, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    i = np.arange(n, dtype=np.float64)
    s = 1.0 / (1.0 + i) if kind == "power" else np.exp(-i / 64.0)
    a = ((u * s) @ v.T).astype(np.float32)
    np.save(out, a)
    np.save(truth, np.linalg.svd(a.astype(np.float64), compute_uv=False))
    print(json.dumps({"numpy": np.__version__}))
else:
    from sklearn.utils.extmath import randomized_svd
    import sklearn
    a = np.load(sys.argv[2])
    k, seed = int(sys.argv[3]), int(sys.argv[4])
    randomized_svd(a, k, random_state=seed + 100)  # warm-up: BLAS threads, first-call costs
    (_, s, _), dt, cpu = timed(lambda: randomized_svd(a, k, random_state=seed))
    print(json.dumps({"seconds": dt, "cpu": cpu, "s": [float(x) for x in s], "dtype": str(a.dtype),
                      "sklearn": sklearn.__version__, "numpy": np.__version__, "pools": pools()}))
`;

const python = (...args: string[]) => runAnchor(SCRIPT, args) as Record<string, unknown>;

/** largest relative error of s against the truth over the first k values */
function worst(s: ArrayLike<number>, truth: Float64Array, k: number): number {
  let e = 0;
  for (let i = 0; i < k; i++) e = Math.max(e, Math.abs(s[i]! - truth[i]!) / truth[i]!);
  return e;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const i = process.argv.indexOf('--spectra');
  const spectra = (i >= 0 ? process.argv[i + 1]! : 'power,exp').split(',');
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-svd-'));
  // intra-op threads: 1 by default, as the passes run it (pipeline/pass-manager)
  const t = process.argv.indexOf('--threads');
  const threads = t >= 0 ? Number(process.argv[t + 1]) : 1;
  // edgefit's oversampling (default scikit-learn's 10)
  const o = process.argv.indexOf('--oversample');
  const oversample = o >= 0 ? Number(process.argv[o + 1]) : undefined;
  const mm = new OrtMatMul(nodeRuntime, threads);
  try {
    let versions = '';
    for (const kind of spectra) {
      const file = join(dir, `${kind}.npy`);
      const truthFile = join(dir, `${kind}-truth.npy`);
      python('make', String(M), String(N), kind, file, truthFile);
      // a plain Uint8Array: decodeNpy's slice() would be a view of a Node Buffer's whole pool
      const a = toFloat32(decodeNpy(new Uint8Array(readFileSync(file))));
      const truth = Float64Array.from(toFloat32(decodeNpy(new Uint8Array(readFileSync(truthFile)))));
      const gemm = mm.gemm.bind(mm);
      // warm-up, untimed, as on the Python side: the sessions (one per attribute set) and the JIT
      await truncatedSvdAsync(a, M, N, RANK, { gemm, seed: 100 });
      const sk = { ms: [] as number[], cpu: [] as number[], all: [] as number[], top: [] as number[] };
      const ef = { ms: [] as number[], cpu: [] as number[], all: [] as number[], top: [] as number[] };
      for (let r = 0; r < ROUNDS; r++) {
        const run = python('fit', file, String(RANK), String(r)) as {
          seconds: number;
          cpu: number;
          s: number[];
          dtype: string;
          sklearn: string;
          numpy: string;
          pools: unknown;
        };
        versions ||=
          `scikit-learn ${run.sklearn}, numpy ${run.numpy}, input ${run.dtype}, ` +
          `threads ${JSON.stringify(run.pools)}`;
        sk.ms.push(run.seconds * 1000);
        sk.cpu.push(run.cpu * 1000);
        sk.all.push(worst(run.s, truth, RANK));
        sk.top.push(worst(run.s, truth, 10));
        const c0 = process.cpuUsage();
        const t = performance.now();
        const res = await truncatedSvdAsync(a, M, N, RANK, { gemm, seed: r, oversample });
        ef.ms.push(performance.now() - t);
        const c = process.cpuUsage(c0);
        ef.cpu.push((c.user + c.system) / 1000);
        ef.all.push(worst(res.s, truth, RANK));
        ef.top.push(worst(res.s, truth, 10));
      }
      const e = (x: number) => x.toExponential(2);
      console.log(
        `${kind} ${M}x${N} rank ${RANK}: scikit-learn ${median(sk.ms).toFixed(0)} ms ` +
          `(cpu ${median(sk.cpu).toFixed(0)}), ` +
          `max rel. error top-128 ${e(median(sk.all))}, top-10 ${e(median(sk.top))} | ` +
          `edgefit ${median(ef.ms).toFixed(0)} ms (cpu ${median(ef.cpu).toFixed(0)}), ` +
          `top-128 ${e(median(ef.all))}, top-10 ${e(median(ef.top))} | ` +
          `time ratio ${(median(ef.ms) / median(sk.ms)).toFixed(2)}x, error ratio top-128 ` +
          `${(median(ef.all) / median(sk.all)).toFixed(3)}, ` +
          `top-10 ${(median(ef.top) / median(sk.top)).toFixed(3)}`,
      );
    }
    console.log(
      `${versions}; edgefit on onnxruntime-node, ${threads} intra-op thread(s), ` +
        `oversample ${oversample ?? 'default (10)'}`,
    );
  } finally {
    await mm.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
