/**
 * "Did you mean this?": the candidates nearest a mistyped word, as cobra's suggestions (edit distance of
 * at most 2, or a candidate the word begins), nearest first. Small: the process entry (start.ts) loads it.
 */
export function suggest(word: string, candidates: Iterable<string>, maxDistance = 2): string[] {
  const scored: Array<[string, number]> = [];
  const lower = word.toLowerCase();
  for (const c of new Set(candidates)) {
    const d = distance(lower, c.toLowerCase());
    if (d <= maxDistance || (lower.length > 1 && c.startsWith(lower))) scored.push([c, d]);
  }
  return scored.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
}

/** Edit distance: insertions, deletions, substitutions and swaps of neighbours ("rnu" is 1 from "run"). */
export function distance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        cur[j] = Math.min(cur[j]!, before[j - 2]! + 1);
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** The block cobra prints under an unknown command (empty when nothing is near). */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const near = suggest(word, candidates);
  return near.length ? `\nDid you mean this?\n${near.map((n) => `\t${n}\n`).join('')}` : '';
}
