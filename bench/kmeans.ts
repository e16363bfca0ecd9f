// 1-D k-means (kernels/kmeans1d) against scikit-learn's KMeans(n_clusters=K, n_init=1) with its other
// defaults, both sides in one run, on the same float32 data written to a .npy:
//  - data: `real` = the float weights of every model in test/fixtures/models and examples (trained
//    networks), concatenated and tiled to n with a relative perturbation of 1e-3 per copy after the
//    first (so copies are not duplicates); with --synthetic also `laplace` = Laplace(0, 0.02) and
//    `normal` = N(0, 0.05) values
//  - compareKmeans(sets, sizes, ks, rounds) is the whole comparison, for bench/compose/cluster.ts
//  - sizes 1M and 10M, K = 16 and 256; three rounds alternate scikit-learn (seeds 0, 1, 2: its
//    k-means++ start is random) and edgefit (deterministic); times are medians; each side first runs
//    once untimed on the first 100k values (scikit-learn in the same process, edgefit: the JIT)
//  - scikit-learn runs in Debian's /usr/bin/python3 (sklearn 1.2.1, numpy 1.24) in a child process with
//    OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (for the anchor only: bench/anchor.ts); only `fit` is
//    timed
//  - error: both codebooks scored by the same TypeScript loop (every value to its nearest centroid,
//    squared error summed in float64); scikit-learn's best of three is the bar
// Prints one line per case with both wall times (and CPU times: scikit-learn's counts both of its
// threads), the speed-up of the wall times, both errors and the error ratio (edgefit / scikit-learn,
// <= 1 means edgefit's is lower or equal). Load on the machine shows as CPU time well below wall time.
// Run: npx tsx bench/kmeans.ts [--synthetic] [--sizes 1000000,10000000] [--k 16,256]

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy } from '../src/data/npy.js';
import { kmeans1d } from '../src/kernels/kmeans1d.js';
import { Rng } from '../src/kernels/random.js';
import { loadModel } from '../src/node/model-io.js';
import { DataType } from '../src/onnx/dtype.js';
import { runAnchor } from './anchor.js';

const ROUNDS = 3;

export interface DataSet {
  name: string;
  make: (n: number) => Float32Array;
}

const SKLEARN = `
from sklearn.cluster import KMeans
import sklearn
x = np.load(sys.argv[1]).reshape(-1, 1)
k, seed = int(sys.argv[2]), int(sys.argv[3])
KMeans(n_clusters=k, n_init=1, random_state=seed + 100).fit(x[:100000])  # warm-up, untimed
km = KMeans(n_clusters=k, n_init=1, random_state=seed)
_, dt, cpu = timed(lambda: km.fit(x))
np.save(sys.argv[4], km.cluster_centers_.astype(np.float64).ravel())
print(json.dumps({"seconds": dt, "cpu": cpu, "inertia": float(km.inertia_), "iterations": int(km.n_iter_),
                  "sklearn": sklearn.__version__, "numpy": np.__version__, "pools": pools()}))
`;

interface SkRun {
  seconds: number;
  /** CPU seconds of all its threads */
  cpu: number;
  inertia: number;
  iterations: number;
  sklearn: string;
  numpy: string;
  pools: [string, number][];
}

function args(): { synthetic: boolean; sizes: number[]; ks: number[] } {
  const a = process.argv.slice(2);
  const get = (flag: string, def: string) => {
    const i = a.indexOf(flag);
    return i >= 0 ? a[i + 1]! : def;
  };
  return {
    synthetic: a.includes('--synthetic'),
    sizes: get('--sizes', '1000000,10000000').split(',').map(Number),
    ks: get('--k', '16,256').split(',').map(Number),
  };
}

/** every float weight (initializer of 64+ elements) of the fixture and example models */
export function realWeights(): Float32Array {
  const files = [
    ...readdirSync('test/fixtures/models')
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => join('test/fixtures/models', f)),
    'examples/fashion-mnist.onnx',
  ];
  const parts: Float32Array[] = [];
  for (const f of files)
    for (const g of loadModel(f).graph.allGraphs())
      for (const v of g.initializers) {
        const t = v.initializer!;
        if (t.dtype === DataType.FLOAT && t.size >= 64) parts.push(t.toFloat32());
      }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function tile(base: Float32Array, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const copy = Math.floor(i / base.length);
    const v = base[i % base.length]!;
    out[i] = copy === 0 ? v : v * (1 + 1e-3 * (2 * rng.next() - 1));
  }
  return out;
}

export function normal(n: number, seed: number, sigma = 0.05): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * sigma);
}

function laplace(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => {
    const u = rng.next() - 0.5;
    return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u)) * 0.02;
  });
}

/** squared error of every value to its nearest centroid (float64), the same loop for both sides */
function score(x: Float32Array, centroids: ArrayLike<number>): number {
  const c = Float64Array.from(centroids).sort();
  let sse = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    let a = 0;
    let b = c.length - 1;
    while (a < b) {
      const m = (a + b) >> 1;
      if (c[m]! < v) a = m + 1;
      else b = m;
    }
    let d = Math.abs(v - c[a]!);
    if (a > 0) d = Math.min(d, Math.abs(v - c[a - 1]!));
    sse += d * d;
  }
  return sse;
}

function sklearnFit(
  dir: string,
  npy: string,
  k: number,
  seed: number,
): { run: SkRun; centers: Float64Array } {
  const out = join(dir, 'centers.npy');
  const run = runAnchor(SKLEARN, [npy, String(k), String(seed), out]) as SkRun;
  const bytes = readFileSync(out);
  // a float64 .npy written by np.save: 128-byte header for a 1-D array this small
  const headerLen = bytes.readUInt16LE(8) + 10;
  const centers = new Float64Array(
    bytes.buffer.slice(bytes.byteOffset + headerLen, bytes.byteOffset + bytes.length),
  );
  return { run, centers };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The real trained weights, tiled to n (see the header), as a data set. */
export function realSet(): DataSet {
  const real = realWeights();
  console.log(`real weights: ${real.length} float weights of the fixture and example models`);
  return { name: 'real', make: (n) => (n <= real.length ? real.subarray(0, n) : tile(real, n, 1)) };
}

export interface KmeansRow {
  set: string;
  n: number;
  k: number;
  sklearnSse: number;
  edgefitSse: number;
  ratio: number;
}

/** One line per (set, n, K): scikit-learn (best of `rounds` seeds) and the exact DP side by side. */
export function compareKmeans(sets: DataSet[], sizes: number[], ks: number[], rounds = ROUNDS): KmeansRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-kmeans-'));
  const rows: KmeansRow[] = [];
  try {
    let versions = '';
    for (const set of sets)
      for (const n of sizes) {
        const x = set.make(n);
        const npy = join(dir, 'x.npy');
        writeFileSync(npy, encodeNpy({ dtype: 'float32', shape: [n], data: x }));
        for (const k of ks) {
          const skTimes: number[] = [];
          const skCpu: number[] = [];
          const efCpu: number[] = [];
          const skErr: number[] = [];
          const skIters: number[] = [];
          const efTimes: number[] = [];
          let efErr = 0;
          let exact = false;
          let bins = 0;
          kmeans1d(x.subarray(0, 100_000), k); // warm-up (the JIT), untimed, as on the Python side
          for (let r = 0; r < rounds; r++) {
            const sk = sklearnFit(dir, npy, k, r);
            versions ||=
              `scikit-learn ${sk.run.sklearn}, numpy ${sk.run.numpy}, ` +
              `threads ${JSON.stringify(sk.run.pools)}`;
            skTimes.push(sk.run.seconds * 1000);
            skCpu.push(sk.run.cpu * 1000);
            skErr.push(score(x, sk.centers));
            skIters.push(sk.run.iterations);
            const c0 = process.cpuUsage();
            const t = performance.now();
            const res = kmeans1d(x, k);
            efTimes.push(performance.now() - t);
            const c = process.cpuUsage(c0);
            efCpu.push((c.user + c.system) / 1000);
            efErr = score(x, res.centroids);
            exact = res.exact;
            bins = res.bins;
          }
          const skMs = median(skTimes);
          const efMs = median(efTimes);
          const bar = Math.min(...skErr);
          rows.push({ set: set.name, n, k, sklearnSse: bar, edgefitSse: efErr, ratio: efErr / bar });
          console.log(
            `${set.name} n=${n} K=${k}: scikit-learn ${skMs.toFixed(0)} ms (cpu ${median(skCpu).toFixed(0)}) ` +
              `(iterations ${skIters.join('/')}), ` +
              `sse ${bar.toPrecision(6)} (best of ${rounds}; median ${median(skErr).toPrecision(6)}) | ` +
              `edgefit ${efMs.toFixed(1)} ms (cpu ${median(efCpu).toFixed(1)}), sse ${efErr.toPrecision(6)} (bins ${bins}, exact ${exact}) | ` +
              `speed-up ${(skMs / efMs).toFixed(1)}x, error ratio ${(efErr / bar).toFixed(4)}`,
          );
        }
      }
    console.log(versions);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function main(): void {
  const { synthetic, sizes, ks } = args();
  const sets: DataSet[] = [realSet()];
  if (synthetic)
    sets.push({ name: 'laplace', make: (n) => laplace(n, 2) }, { name: 'normal', make: (n) => normal(n, 3) });
  compareKmeans(sets, sizes, ks);
}

if (process.argv[1]?.endsWith('kmeans.ts')) main();
