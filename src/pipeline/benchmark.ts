// Latency measurement: one session, warm-up runs (the first run allocates arenas and memory
// patterns), then N timed runs of the same feeds. Reports median/p90/min/mean and throughput.
// Per-node attribution comes from ONNX Runtime's profiler trace (docs/ORT.md §6.2): the kernel each node
// really ran (QLinearConv or Conv, MatMulNBits or MatMul) and its time per run.

import type { HostTensor, Runtime } from '../runtime/types.js';

export interface LatencyResult {
  median: number;
  p90: number;
  min: number;
  mean: number;
  runs: number;
}

export interface BenchOptions {
  threads?: number;
  runs?: number;
  warmup?: number;
  /** ORT profiler prefix (node: a path prefix for the trace file) */
  profilePrefix?: string;
}

export interface NodeTiming {
  node: string;
  /** the kernel ORT ran (after its fusions), e.g. QLinearConv */
  kernel: string;
  /** microseconds per run */
  us: number;
  inputTypes: string[];
}

export interface ProfileResult {
  byOpType: { kernel: string; us: number; nodes: number; share: number }[];
  byNode: NodeTiming[];
}

export interface BenchResult {
  latencyMs: LatencyResult;
  /** samples per second at this batch size */
  throughput: number;
  batch: number;
  threads: number;
  profile?: ProfileResult;
}

export function summarize(times: number[]): LatencyResult {
  const s = [...times].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return {
    median: q(0.5),
    p90: q(0.9),
    min: s[0]!,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    runs: s.length,
  };
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] };
}

/** Aggregate an ORT profiler trace into per-kernel and per-node times (µs per run). */
export function parseProfile(events: unknown[], runs: number): ProfileResult {
  const nodes = new Map<string, NodeTiming>();
  for (const e of events as TraceEvent[]) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const kernel = e.args?.op_name ?? '?';
    const t = nodes.get(node) ?? {
      node,
      kernel,
      us: 0,
      inputTypes: (e.args?.input_type_shape ?? []).map((o) => Object.keys(o)[0] ?? '?'),
    };
    t.us += (e.dur ?? 0) / runs;
    nodes.set(node, t);
  }
  const byNode = [...nodes.values()].sort((a, b) => b.us - a.us);
  const total = byNode.reduce((s, n) => s + n.us, 0) || 1;
  const kinds = new Map<string, { kernel: string; us: number; nodes: number; share: number }>();
  for (const n of byNode) {
    const k = kinds.get(n.kernel) ?? { kernel: n.kernel, us: 0, nodes: 0, share: 0 };
    k.us += n.us;
    k.nodes++;
    kinds.set(n.kernel, k);
  }
  const byOpType = [...kinds.values()].sort((a, b) => b.us - a.us);
  for (const k of byOpType) k.share = k.us / total;
  return { byOpType, byNode };
}

export async function benchmark(
  runtime: Runtime,
  model: Uint8Array | string,
  feeds: Record<string, HostTensor>,
  options: BenchOptions = {},
): Promise<BenchResult> {
  const threads = options.threads ?? 1;
  const runs = Math.max(1, options.runs ?? 100);
  const warmup = Math.max(0, options.warmup ?? 10);
  const session = await runtime.createSession(model, { threads });
  const batch = Object.values(feeds)[0]?.dims[0] ?? 1;
  try {
    for (let i = 0; i < warmup; i++) await session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
    const latencyMs = summarize(times);
    const result: BenchResult = { latencyMs, throughput: (1000 * batch) / latencyMs.median, batch, threads };
    if (options.profilePrefix) {
      // a separate profiled session: profiling overhead must not touch the headline numbers
      const profRuns = Math.min(runs, 20);
      const prof = await runtime.createSession(model, { threads, profilePrefix: options.profilePrefix });
      try {
        for (let i = 0; i < Math.min(warmup, 3); i++) await prof.run(feeds);
        const events = await (async () => {
          for (let i = 0; i < profRuns; i++) await prof.run(feeds);
          return prof.endProfiling();
        })();
        // warm-up runs are in the trace too: count them
        if (events) result.profile = parseProfile(events, profRuns + Math.min(warmup, 3));
      } finally {
        await prof.release();
      }
    }
    return result;
  } finally {
    await session.release();
  }
}
