// The versioned JSON report: what every command's `--json` prints and every library function
// resolves to. One vocabulary everywhere (docs/CLI.md): accuracies are fractions (0.932), drops in
// percentage points end in `Pt`, latency is always `latencyMs` { median, p90, min, mean, runs },
// sizes are `bytes` / `gzipBytes` / `brotliBytes`. Renderers (text tables, HTML) are pure functions
// of these types. Bump SCHEMA_VERSION when a field changes meaning or disappears.

export const SCHEMA_VERSION = 1;

export interface Versioned {
  schemaVersion: number;
}

export interface Latency {
  median: number;
  p90: number;
  min: number;
  mean: number;
  runs: number;
}

/** What one side of a transform costs: on disk (file + external data) and in the graph. */
export interface SideCounts {
  bytes: number;
  brotliBytes: number;
  params: number;
  weightBytes: number;
  nodes: number;
  opTypes: Record<string, number>;
  /** batch-1 latency on one thread, where the command measured it (quantize) */
  latencyMs?: Latency;
}

export interface Fidelity {
  /** max |a - b| / max |reference| over all outputs */
  maxRelError: number;
  /** signal-to-quantization-noise ratio of the first float output, dB */
  sqnr: number;
  /** top-1 agreement of the first output's rows, a fraction */
  agreement: number;
}

export interface PassRecord {
  name: string;
  changed: boolean;
  stats: Record<string, number>;
  ms: number;
  rolledBack?: boolean;
  fidelity?: Fidelity;
}

/** The fields every transform (slim, quantize, prune, cluster, decompose, optimize) reports. */
export interface TransformReport extends Versioned {
  command: string;
  input: string;
  output: string;
  before: SideCounts;
  after: SideCounts;
  passes: PassRecord[];
  /** a transform that changed little or nothing says why here (and on stderr in the CLI) */
  warnings: string[];
  [extra: string]: unknown;
}

/** `--print-recipe`: the steps a transform would run, instead of running them. */
export interface RecipeReport extends Versioned {
  command: string;
  recipe: { pass: string; options?: Record<string, unknown>; nodes?: string[] }[];
}

/** Round to `digits` significant digits (JSON stays readable; no 0.30000000000000004). */
export function roundSig(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const p = 10 ** (digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return p >= 1 ? Math.round(x * p) / p : Math.round(x * p) / p;
}

export function roundLatency(l: Latency): Latency {
  return {
    median: roundSig(l.median),
    p90: roundSig(l.p90),
    min: roundSig(l.min),
    mean: roundSig(l.mean),
    runs: l.runs,
  };
}

export function roundFidelity(f: Fidelity): Fidelity {
  return {
    maxRelError: roundSig(f.maxRelError, 3),
    sqnr: Number.isFinite(f.sqnr) ? Math.round(f.sqnr * 100) / 100 : f.sqnr,
    agreement: roundSig(f.agreement, 6),
  };
}

// ---- search (edgefit search): every candidate measured, the Pareto front, the choice ----

/** What a candidate costs and how accurate it is. Accuracy is a fraction (top-1, or agreement). */
export interface CandidateMetrics {
  bytes: number;
  brotliBytes: number;
  params: number;
  /** multiply-accumulates per inference (batch 1) */
  macs: number;
  /** peak activation memory at batch 1 (for a RAM budget) */
  peakActivationBytes: number;
  /** estimated energy per inference, microjoules (docs/ENERGY.md table) */
  energyUj?: number;
  latencyMs?: number;
  accuracy: number;
  /** baseline accuracy minus this candidate's, in percentage points */
  dropPt: number;
  /** top-1 agreement with the input model on the search data */
  agreement?: number;
  /**
   * one standard error of dropPt (paired, from the samples whose top-1 changed): a candidate is
   * feasible when dropPt + dropMarginPt is within --max-drop
   */
  dropMarginPt?: number;
}

export interface Candidate {
  id: string;
  /** the candidate this one was derived from (a local move), if any */
  parent?: string;
  /** short human label, e.g. "lowrank fc1 0.15 + int4 gptq" */
  label: string;
  /** the recipe that makes it from the input model (reusable with optimize --recipe) */
  recipe: { pass: string; options?: Record<string, unknown>; nodes?: string[] }[];
  metrics: CandidateMetrics;
  /** within --max-drop (and the device budget, when given) */
  feasible: boolean;
  /** on the Pareto front of (objective, accuracy) */
  pareto: boolean;
  /** how it was proposed: sensitivity allocation, a local move, a sampled point, a baseline */
  origin: string;
}

/** One row of the sensitivity table: one layer, one technique setting, everything else untouched. */
export interface SensitivityRow {
  layer: string;
  op: string;
  technique: string;
  setting: string;
  dropPt: number;
  /** brotli bytes saved by this change alone */
  bytesSaved: number;
}

export interface WeightHistogram {
  layer: string;
  /** bin edges (length bins + 1) and counts before/after, for the chosen model */
  edges: number[];
  before: number[];
  after: number[];
}

export interface DataRef {
  source: string;
  samples: number;
}

export interface SearchReport extends Versioned {
  command: 'search';
  model: string;
  output?: string;
  objective: 'size' | 'latency' | 'macs' | 'energy';
  maxDropPt: number;
  /** device budget: file bytes must fit flash, peak activations RAM */
  budget?: { flash?: number; ram?: number };
  metric: 'top1' | 'agreement';
  /** what judged the candidates and what calibrated them (samples held out of --data without --calib) */
  data?: { evaluation: DataRef; calibration?: DataRef };
  baseline: CandidateMetrics;
  /** the best feasible candidate, or the closest one when nothing met the budget */
  chosen: Candidate & { met: boolean };
  front: Candidate[];
  candidates: Candidate[];
  sensitivity: SensitivityRow[];
  histograms: WeightHistogram[];
  evaluations: { total: number; cached: number; seconds: number };
  warnings: string[];
}
