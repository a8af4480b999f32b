/** "Did you mean ...?" for names a configuration refers to: clusters, Secret types, field names. */

/**
 * Edit distance where swapping two neighbouring characters counts once (optimal string alignment): `prod-ue` is
 * one edit from `prod-eu`, as a person sees it, not two.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  const at = (i: number, j: number): number => (rows[i] as number[])[j] as number;
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** Characters two names do not share (as multisets): 0 for a swap, so a swap beats a substitution in a tie. */
function charactersApart(a: string, b: string): number {
  const counts = new Map<string, number>();
  for (const c of a) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const c of b) counts.set(c, (counts.get(c) ?? 0) - 1);
  return [...counts.values()].reduce((sum, n) => sum + Math.abs(n), 0);
}

/**
 * The candidate closest to `name`, if it is close enough to be a likely typo: at most a quarter of the longer
 * name's length in edits (`prod-ue` suggests `prod-eu`; `prod-ap`, two edits away, does not). Of equally close
 * ones, a swap of characters wins (`prod-ue` is one edit from `prod-us` too), then the first candidate.
 */
export function nearestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: { candidate: string; distance: number; apart: number } | undefined;
  const lower = name.toLowerCase();
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const other = candidate.toLowerCase();
    const limit = Math.floor(Math.max(name.length, candidate.length) / 4);
    const distance = editDistance(lower, other);
    if (distance > limit) continue;
    const apart = charactersApart(lower, other);
    if (best === undefined || distance < best.distance || (distance === best.distance && apart < best.apart)) {
      best = { candidate, distance, apart };
    }
  }
  return best?.candidate;
}

/** `; did you mean "x"?` when a candidate is near, else the empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const near = nearestName(name, candidates);
  return near === undefined ? '' : `; did you mean "${near}"?`;
}
