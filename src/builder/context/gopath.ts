/**
 * Go's slash-path primitives that Docker's build context code is written in terms of:
 * `path.Clean` (= filepath.Clean on Linux) and `filepath.Match`. Ported rule for rule
 * (Go 1.19's match.go, which reports a malformed pattern even when the name fails
 * early), so a COPY wildcard or a .dockerignore pattern means what it means to dockerd.
 */

/** Go's path.Clean: "a//b/./c/.." -> "a/b", "/../x" -> "/x", "" -> ".". */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = out.join('/');
  return rooted ? `/${s}` : s || '.';
}

/** Thrown (as Go's ErrBadPattern) for a malformed pattern; callers turn it into a BerthError. */
export class BadPattern extends Error {
  constructor(pattern: string) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}`);
  }
}

/**
 * Go's filepath.Match on Linux: `*` any run of non-`/`, `?` one non-`/` character,
 * `[...]` / `[^...]` classes with ranges, `\` escapes. The whole name must match.
 */
export function goMatch(pattern: string, name: string): boolean {
  let pat = [...pattern];
  let s = [...name];
  const bad = () => new BadPattern(pattern);
  outer: while (pat.length > 0) {
    const { star, chunk, rest } = scanChunk(pat);
    pat = rest;
    if (star && chunk.length === 0) return !s.includes('/');
    const r = matchChunk(chunk, s, bad);
    if (r && (r.length === 0 || pat.length > 0)) {
      s = r;
      continue;
    }
    if (star) {
      for (let i = 0; i < s.length && s[i] !== '/'; i++) {
        const t = matchChunk(chunk, s.slice(i + 1), bad);
        if (t) {
          if (pat.length === 0 && t.length > 0) continue;
          s = t;
          continue outer;
        }
      }
    }
    // the rest of the pattern must still be well formed
    while (pat.length > 0) {
      const c = scanChunk(pat);
      pat = c.rest;
      matchChunk(c.chunk, [], bad);
    }
    return false;
  }
  return s.length === 0;
}

function scanChunk(pat: string[]): { star: boolean; chunk: string[]; rest: string[] } {
  let star = false;
  let p = pat;
  while (p.length > 0 && p[0] === '*') {
    p = p.slice(1);
    star = true;
  }
  let inrange = false;
  let i = 0;
  scan: for (; i < p.length; i++) {
    switch (p[i]) {
      case '\\':
        if (i + 1 < p.length) i++;
        break;
      case '[':
        inrange = true;
        break;
      case ']':
        inrange = false;
        break;
      case '*':
        if (!inrange) break scan;
        break;
    }
  }
  return { star, chunk: p.slice(0, i), rest: p.slice(i) };
}

/** What is left of s after chunk matched its start, or undefined; throws on a malformed chunk. */
function matchChunk(chunkIn: string[], sIn: string[], bad: () => BadPattern): string[] | undefined {
  let chunk = chunkIn;
  let s = sIn;
  let failed = false;
  while (chunk.length > 0) {
    if (!failed && s.length === 0) failed = true;
    const c = chunk[0]!;
    if (c === '[') {
      let r = '';
      if (!failed) {
        r = s[0]!;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
      let negated = false;
      if (chunk.length > 0 && chunk[0] === '^') {
        negated = true;
        chunk = chunk.slice(1);
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (chunk.length > 0 && chunk[0] === ']' && nrange > 0) {
          chunk = chunk.slice(1);
          break;
        }
        const lo = getEsc(chunk, bad);
        chunk = lo.rest;
        let hi = lo.ch;
        if (chunk[0] === '-') {
          const h = getEsc(chunk.slice(1), bad);
          hi = h.ch;
          chunk = h.rest;
        }
        if (!failed && cp(lo.ch) <= cp(r) && cp(r) <= cp(hi)) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[0] === '/') failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    } else {
      if (c === '\\') {
        chunk = chunk.slice(1);
        if (chunk.length === 0) throw bad();
      }
      if (!failed) {
        if (chunk[0] !== s[0]) failed = true;
        s = s.slice(1);
      }
      chunk = chunk.slice(1);
    }
  }
  return failed ? undefined : s;
}

function getEsc(chunkIn: string[], bad: () => BadPattern): { ch: string; rest: string[] } {
  let chunk = chunkIn;
  if (chunk.length === 0 || chunk[0] === '-' || chunk[0] === ']') throw bad();
  if (chunk[0] === '\\') {
    chunk = chunk.slice(1);
    if (chunk.length === 0) throw bad();
  }
  const ch = chunk[0]!;
  const rest = chunk.slice(1);
  if (rest.length === 0) throw bad();
  return { ch, rest };
}

const cp = (ch: string) => ch.codePointAt(0) ?? -1;

/** Go's sort.Strings order (bytewise UTF-8), which differs from JS's UTF-16 order above the BMP. */
export function goCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
