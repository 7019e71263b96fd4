import { invalid } from '../../core/errors.js';
import { BadPattern, goClean, goMatch } from './gopath.js';

/**
 * .dockerignore as the classic builder of Docker 20.10 reads it: buildkit's
 * dockerignore.ReadAll (the client) and moby's pkg/fileutils PatternMatcher (used by
 * the client's context tar and the daemon's removal of an ignored Dockerfile).
 *
 * Written here rather than taken from @balena/dockerignore: that port follows 19.03,
 * matches case-insensitively by default and treats `**` in parent-dir matching
 * differently from 20.10's fileutils, and it does not expose the pattern list that the
 * client's "may an excluded dir hold an exception" walk rule needs.
 */

/** Lines of a .dockerignore as patterns: BOM, `#` comments and blanks dropped, cleaned, leading `/` stripped. */
export function parseDockerignore(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (i === lines.length - 1 && line === '') break;
    if (line.endsWith('\r')) line = line.slice(0, -1); // bufio.ScanLines drops a CR before LF
    if (i === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) continue;
    let p = line.trim();
    if (p === '') continue;
    const invert = p[0] === '!';
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = goClean(p);
      if (p.length > 1 && p[0] === '/') p = p.slice(1);
    }
    out.push(invert ? `!${p}` : p);
  }
  return out;
}

interface Pattern {
  /** The cleaned pattern without its `!`. */
  text: string;
  exclusion: boolean;
  dirs: number;
  re: RegExp;
}

/**
 * Which context paths a .dockerignore excludes. Every pattern is tried against the
 * path and, if it does not match, against the path's first N dirs (N = the pattern's
 * depth), so `dir` excludes `dir/a/b`; the last pattern that matches decides, a `!`
 * pattern re-including.
 */
export class IgnoreMatcher {
  readonly patterns: readonly string[];
  readonly hasExceptions: boolean;
  private readonly compiled: Pattern[];

  constructor(patterns: string[]) {
    this.compiled = [];
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = goClean(p);
      let exclusion = false;
      if (p[0] === '!') {
        if (p.length === 1) throw invalid('dockerignore_pattern', 'read .dockerignore: illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
      }
      try {
        goMatch(p, '.');
      } catch (err) {
        if (err instanceof BadPattern)
          throw invalid(
            'dockerignore_pattern',
            `read .dockerignore: pattern ${JSON.stringify(raw)}: syntax error in pattern`,
          );
        throw err;
      }
      this.compiled.push({ text: p, exclusion, dirs: p.split('/').length, re: compile(p, raw) });
    }
    this.patterns = this.compiled.map((c) => (c.exclusion ? `!${c.text}` : c.text));
    this.hasExceptions = this.compiled.some((c) => c.exclusion);
  }

  /** Whether relPath (slash path relative to the context root) is excluded. The root itself never is. */
  excludes(relPath: string, _isDir?: boolean): boolean {
    const file = goClean(relPath);
    if (file === '.' || this.compiled.length === 0) return false;
    const slash = file.lastIndexOf('/');
    const parent = slash < 0 ? '.' : file.slice(0, slash);
    const parentDirs = parent.split('/');
    let matched = false;
    for (const p of this.compiled) {
      let match = p.re.test(file);
      if (!match && parent !== '.' && p.dirs <= parentDirs.length) {
        match = p.re.test(parentDirs.slice(0, p.dirs).join('/'));
      }
      if (match) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether a walk must look inside relDir. False when it is excluded and no `!`
   * pattern begins with `relDir/` (the client's literal-prefix test: `!**` patterns do
   * not reopen an excluded dir), so nothing below it can be in the context.
   */
  mayIncludeBelow(relDir: string): boolean {
    const dir = goClean(relDir);
    if (!this.excludes(dir, true)) return true;
    if (!this.hasExceptions) return false;
    const prefix = `${dir}/`;
    return this.compiled.some((p) => p.exclusion && `${p.text}/`.startsWith(prefix));
  }
}

/** fileutils' pattern -> regexp translation (`**` any dirs, `*` and `?` within one name, `\` escapes). */
function compile(p: string, raw: string): RegExp {
  const ch = [...p];
  let re = '^';
  for (let i = 0; i < ch.length; i++) {
    const c = ch[i]!;
    if (c === '*') {
      if (ch[i + 1] === '*') {
        i++;
        if (ch[i + 1] === '/') i++;
        re += i + 1 >= ch.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '.' || c === '$') {
      re += `\\${c}`;
    } else if (c === '\\') {
      if (i + 1 < ch.length) re += literal(ch[++i]!);
      else re += '\\\\';
    } else if (c === '{' || c === '}') {
      re += `\\${c}`; // RE2 reads a brace that is not a repetition literally; JS's u-mode refuses it
    } else {
      re += c; // like fileutils, other regexp syntax ([...], (, |, +) passes through
    }
  }
  try {
    return new RegExp(`${re}$`, 'u');
  } catch {
    throw invalid(
      'dockerignore_pattern',
      `read .dockerignore: pattern ${JSON.stringify(raw)}: syntax error in pattern`,
    );
  }
}

function literal(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}
