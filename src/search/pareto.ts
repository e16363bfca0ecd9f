// The Pareto front of candidates: those no other candidate beats on both axes (a lower or equal
// objective — bytes, ms, MACs, µJ — and a higher or equal accuracy, one of them strictly).

export function paretoFront<T>(items: readonly T[], cost: (t: T) => number, accuracy: (t: T) => number): T[] {
  // sort by cost, then accuracy descending: a point is on the front when it is more accurate than
  // every cheaper point
  const sorted = [...items].sort((a, b) => cost(a) - cost(b) || accuracy(b) - accuracy(a));
  const front: T[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const t of sorted)
    if (accuracy(t) > best) {
      front.push(t);
      best = accuracy(t);
    }
  return front;
}
