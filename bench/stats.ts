/** The few statistics the benchmark reports. */

/** The median; NaN for no values. Robust to the one round a neighbour's job slowed. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Each round's a/b ratio of one figure, and their median: rounds without both are left out. */
export function perRoundRatio<R extends { readonly contender: string; readonly round: number }>(
  all: readonly R[],
  a: string,
  b: string,
  figure: (r: R) => number,
): { readonly median: number | null; readonly rounds: readonly number[] } {
  const ratios: number[] = [];
  for (const ra of all) {
    if (ra.contender !== a) continue;
    const rb = all.find((r) => r.contender === b && r.round === ra.round);
    if (rb === undefined || !(figure(rb) > 0)) continue;
    ratios.push(round(figure(ra) / figure(rb), 3));
  }
  return { median: ratios.length > 0 ? round(median(ratios), 3) : null, rounds: ratios };
}

/** Medians of consecutive windows of `size` samples (the last, partial one left out). */
export function windowMedians(samples: readonly number[], size: number): number[] {
  const medians: number[] = [];
  for (let start = 0; start + size <= samples.length; start += size) {
    medians.push(median(samples.slice(start, start + size)));
  }
  return medians;
}
