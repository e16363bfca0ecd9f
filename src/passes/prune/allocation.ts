// How a global sparsity target is split over layers (prune-weights' scope and allocation):
//  1. global threshold: every layer's scores divided by that layer's mean score, then the
//     floor(S · total) lowest of all layers together go (ties: lower layer, then lower index, first);
//     a layer's sparsity is the share of its weights below the threshold
//  2. sensitivity: each layer has an output-error curve e_l(s) measured at the sparsities of GRID
//     (relative output error ||ΔW X||² / ||W X||², from e_l(0) = 0); the allocation minimises
//     Σ_l e_l(s_l) subject to Σ_l s_l · size_l = S · Σ_l size_l over the lower convex hull of each
//     curve: hull segments of all layers are taken cheapest first (error per removed weight), the
//     last one partly, so the total meets the target exactly (up to rounding to whole weights);
//     no layer goes beyond the last grid point

/** Sparsities at which the sensitivity curves are measured. */
export const GRID = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98];

/** rule 1: per-layer sparsities from one threshold over mean-normalized scores. */
export function thresholdSparsities(scores: Float64Array[], target: number): number[] {
  const total = scores.reduce((a, s) => a + s.length, 0);
  const k = Math.floor(target * total);
  const all = new Float64Array(total);
  const layerOf = new Uint32Array(total);
  let at = 0;
  scores.forEach((s, l) => {
    let mean = 0;
    for (const v of s) mean += v / s.length;
    for (const v of s) {
      all[at] = mean > 0 ? v / mean : 0;
      layerOf[at++] = l;
    }
  });
  const order = Uint32Array.from({ length: total }, (_, i) => i).sort((a, b) => all[a]! - all[b]! || a - b);
  const counts = new Array<number>(scores.length).fill(0);
  for (let i = 0; i < k; i++) counts[layerOf[order[i]!]!]!++;
  return counts.map((c, l) => (scores[l]!.length ? c / scores[l]!.length : 0));
}

export interface Curve {
  /** weights in the layer */
  size: number;
  /** relative output error at each sparsity of GRID */
  errors: number[];
}

interface Segment {
  layer: number;
  from: number;
  to: number;
  slope: number;
}

/** The lower convex hull of (0, 0), (GRID[i], errors[i]) as segments of sparsity, cheapest first. */
function hull(c: Curve, layer: number): Segment[] {
  const pts = [{ s: 0, e: 0 }, ...GRID.map((s, i) => ({ s, e: Math.max(0, c.errors[i] ?? 0) }))];
  const h: { s: number; e: number }[] = [];
  for (const p of pts) {
    while (h.length >= 2) {
      const a = h[h.length - 2]!;
      const b = h[h.length - 1]!;
      // drop b when it lies on or above the chord a-p
      if ((b.e - a.e) * (p.s - a.s) >= (p.e - a.e) * (b.s - a.s)) h.pop();
      else break;
    }
    h.push(p);
  }
  return h.slice(1).map((p, i) => ({
    layer,
    from: h[i]!.s,
    to: p.s,
    slope: (p.e - h[i]!.e) / ((p.s - h[i]!.s) * Math.max(1, c.size)),
  }));
}

/** rule 2: per-layer sparsities reaching `target` of all weights with the least summed error. */
export function allocateBySensitivity(curves: Curve[], target: number): number[] {
  const total = curves.reduce((a, c) => a + c.size, 0);
  let need = target * total;
  const s = new Array<number>(curves.length).fill(0);
  const segments = curves.flatMap((c, l) => hull(c, l));
  segments.sort((a, b) => a.slope - b.slope || a.layer - b.layer || a.from - b.from);
  for (const g of segments) {
    if (need <= 0) break;
    const size = curves[g.layer]!.size;
    const gain = (g.to - g.from) * size;
    const take = Math.min(1, need / gain);
    s[g.layer] = g.from + take * (g.to - g.from);
    need -= take * gain;
  }
  return s;
}
