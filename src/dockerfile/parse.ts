/**
 * Dockerfile bytes -> nodes with line numbers, following the rules of buildkit's
 * frontend/dockerfile/parser: parser directives, comments, continuation lines,
 * exec (JSON) vs shell form, heredocs and leading `--flags`. It knows nothing
 * about what instructions mean (see instructions.ts) nor about building.
 */
import { invalid, type BerthError } from '../core/errors.js';
import { expandWords } from './expand.js';

export interface Heredoc {
  /** Delimiter word, quotes removed. */
  name: string;
  /** False when the delimiter was quoted (`<<"EOF"`): the content is taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs were stripped from every content line. */
  chomp: boolean;
  /** `3<<EOF` redirects fd 3; 0 by default. */
  fd: number;
  content: string;
}

export interface Node {
  /** Upper case keyword. */
  instruction: string;
  /** Arguments as the keyword's syntax splits them (see argsOf below); values are not expanded. */
  args: string[];
  /** Exec form: args came from a JSON array. */
  json: boolean;
  /** ENV/LABEL: key/value pairs (quotes still in the values); `legacy` for `ENV k v`. */
  pairs?: { key: string; value: string }[];
  legacy?: boolean;
  /** Leading `--name=value` / `--name` flags, in order, as written. */
  rawFlags: string[];
  /** The same flags by name; a bare `--link` is `true`. */
  flags: Record<string, string | true>;
  heredocs: Heredoc[];
  /** ONBUILD: the trigger instruction. */
  sub?: Node;
  /** The instruction as written, continuations joined. */
  original: string;
  startLine: number;
  endLine: number;
}

export interface ParseResult {
  nodes: Node[];
  escape: '\\' | '`';
  directives: Record<string, string>;
  warnings: string[];
}

export const KNOWN_INSTRUCTIONS: ReadonlySet<string> = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);
const HEREDOC_INSTRUCTIONS = new Set(['ADD', 'COPY', 'RUN']);
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);

/** An error at a place in a Dockerfile: `Dockerfile:7: unknown instruction: RUNN`. */
export function dockerfileError(file: string, line: number, msg: string, cause?: unknown): BerthError {
  return invalid('dockerfile_syntax', `${file}:${line}: ${msg}`, cause);
}

const isComment = (line: string) => /^\s*#/.test(line);

export function parse(text: string, file = 'Dockerfile'): ParseResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const directives: Record<string, string> = {};
  let escape: '\\' | '`' = '\\';
  let i = 0;
  // Directives: only a leading run of `# key=value` lines with known keys.
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!.replace(/^\s+/, ''));
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break;
    if (key in directives) throw dockerfileError(file, i + 1, `only one ${key} parser directive can be used`);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '\\' && value !== '`')
        throw dockerfileError(file, i + 1, `invalid escape token '${value}' does not match ${'`'} or \\`);
      escape = value;
    }
    directives[key] = value;
  }
  // The escape char last on a line continues it, unless it is itself escaped (`echo \\`).
  const e = escape === '\\' ? '\\\\' : '`';
  const continuation = new RegExp(`(^|[^${e}])${e}[ \\t]*$`);
  const trimCont = (l: string): [string, boolean] =>
    continuation.test(l) ? [l.replace(continuation, '$1'), false] : [l, true];

  const nodes: Node[] = [];
  const warnings: string[] = [];
  while (i < lines.length) {
    const raw = lines[i++]!;
    const startLine = i;
    if (isComment(raw)) continue;
    let [line, done] = trimCont(raw.replace(/^\s+/, ''));
    if (done && line.trim() === '') continue;
    let emptyCont = false;
    while (!done && i < lines.length) {
      const next = lines[i++]!;
      if (isComment(next)) continue;
      if (next.trim() === '') {
        emptyCont = true;
        continue;
      }
      let part: string;
      [part, done] = trimCont(next);
      line += part;
    }
    if (emptyCont) warnings.push(`${file}:${startLine}: empty continuation line found in: ${line}`);
    let node: Node;
    try {
      node = nodeFromLine(line, escape);
    } catch (e) {
      throw dockerfileError(file, startLine, (e as Error).message, e);
    }
    node.startLine = startLine;
    const target = node.sub ?? node;
    if (HEREDOC_INSTRUCTIONS.has(target.instruction) && !target.json && line.includes('<<')) {
      for (const doc of heredocsOf(line)) {
        let content = '';
        let terminated = false;
        while (i < lines.length) {
          const l = lines[i++]!;
          if ((doc.chomp ? l.replace(/^\t+/, '') : l) === doc.name) {
            terminated = true;
            break;
          }
          content += (doc.chomp ? l.replace(/^\t+/, '') : l) + '\n';
        }
        if (!terminated)
          throw dockerfileError(file, startLine, `${node.instruction}: unterminated heredoc "${doc.name}"`);
        target.heredocs.push({ ...doc, content });
      }
    }
    node.endLine = i;
    if (node.sub) {
      node.sub.startLine = node.startLine;
      node.sub.endLine = node.endLine;
    }
    nodes.push(node);
  }
  if (nodes.length === 0) throw dockerfileError(file, Math.max(lines.length, 1), 'file with no instructions');
  return { nodes, escape, directives, warnings };
}

function nodeFromLine(line: string, escape: string): Node {
  const trimmed = line.trim();
  const m = /^(\S+)\s*([\s\S]*)$/.exec(trimmed)!;
  const instruction = m[1]!.toUpperCase();
  if (!KNOWN_INSTRUCTIONS.has(instruction)) throw new Error(`unknown instruction: ${instruction}`);
  const { rest, flags: rawFlags } = splitFlags(m[2]!);
  const flags: Record<string, string | true> = {};
  for (const f of rawFlags) {
    const eq = f.indexOf('=');
    const name = eq < 0 ? f.slice(2) : f.slice(2, eq);
    flags[name] = eq < 0 ? true : f.slice(eq + 1);
  }
  const node: Node = {
    instruction,
    args: [],
    json: false,
    rawFlags,
    flags,
    heredocs: [],
    original: line,
    startLine: 0,
    endLine: 0,
  };
  switch (instruction) {
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL': {
      const j = maybeJSON(rest, instruction);
      if (j) [node.args, node.json] = [j, true];
      else if (rest !== '') node.args = [rest];
      break;
    }
    case 'ADD':
    case 'COPY':
    case 'VOLUME': {
      const j = maybeJSON(rest, instruction);
      if (j) [node.args, node.json] = [j, true];
      else node.args = whitespaceWords(rest);
      break;
    }
    case 'FROM':
    case 'EXPOSE':
      node.args = whitespaceWords(rest);
      break;
    case 'ENV':
    case 'LABEL': {
      const r = nameVal(rest, instruction, escape);
      node.pairs = r.pairs;
      node.legacy = r.legacy;
      node.args = r.pairs.flatMap((p) => [p.key, p.value]);
      break;
    }
    case 'ARG':
      node.args = parseWords(rest, escape);
      break;
    case 'HEALTHCHECK': {
      const hm = /^(\S+)\s*([\s\S]*)$/.exec(rest);
      if (!hm) break;
      const j = maybeJSON(hm[2]!, instruction);
      node.args = [hm[1]!, ...(j ?? (hm[2] === '' ? [] : [hm[2]!]))];
      node.json = j !== undefined;
      break;
    }
    case 'ONBUILD':
      if (rest !== '') node.sub = nodeFromLine(rest, escape);
      break;
    default: // MAINTAINER STOPSIGNAL USER WORKDIR
      if (rest !== '') node.args = [rest];
  }
  return node;
}

/**
 * Exec form when the text parses as a JSON array of strings; any other JSON array is an error; anything else is shell
 * form.
 */
function maybeJSON(rest: string, instruction: string): string[] | undefined {
  const t = rest.trimStart();
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (!v.every((x) => typeof x === 'string'))
    throw new Error(`${instruction}: when using JSON array syntax, arrays must be comprised of strings only`);
  return v as string[];
}

function whitespaceWords(rest: string): string[] {
  const t = rest.trim();
  return t === '' ? [] : t.split(/[\t\v\f\r ]+/);
}

/**
 * Leading `--flag[=value]` words; quotes and `\` inside a flag are resolved.
 * A lone `--` ends the flags.
 */
export function splitFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && /\s/.test(line[pos]!)) pos++;
    if (!line.startsWith('--', pos)) return { rest: line.slice(pos), flags };
    let word = '';
    let quote = '';
    let blankOK = false;
    for (; pos < line.length; pos++) {
      let ch = line[pos]!;
      if (!quote && /\s/.test(ch)) break;
      if (!quote && (ch === '"' || ch === "'")) {
        quote = ch;
        blankOK = true;
        continue;
      }
      if (quote && ch === quote) {
        quote = '';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        ch = line[++pos]!;
      }
      word += ch;
    }
    if (word === '--') return { rest: line.slice(pos).replace(/^\s+/, ''), flags };
    if (blankOK || word !== '') flags.push(word);
    if (pos >= line.length) return { rest: '', flags };
  }
}

/**
 * Words separated by unquoted whitespace, quotes and escapes kept as written
 * (they are removed later, by expansion): `a="b c" d` -> [`a="b c"`, `d`].
 */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  const chars = [...rest];
  for (let p = 0; p < chars.length; p++) {
    let ch = chars[p]!;
    if (quote) {
      if (ch === quote) quote = '';
      else if (ch === escape && quote !== "'") {
        if (p + 1 === chars.length) continue;
        word += ch;
        ch = chars[++p]!;
      }
      word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === escape) {
      if (p + 1 === chars.length) continue;
      word += ch;
      ch = chars[++p]!;
    }
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}

function nameVal(
  rest: string,
  instruction: string,
  escape: string,
): { pairs: { key: string; value: string }[]; legacy: boolean } {
  const words = parseWords(rest, escape);
  if (words.length === 0) return { pairs: [], legacy: false };
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]+)$/.exec(rest.trim());
    if (!m) throw new Error(`${instruction} must have two arguments`);
    return { pairs: [{ key: m[1]!, value: m[2]! }], legacy: true };
  }
  const pairs = words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0)
      throw new Error(`${instruction}: syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
  return { pairs, legacy: false };
}

const HEREDOC = /^(\d*)<<(-?)([^<]*)$/;

/** The heredocs a line opens, in order: `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`. */
export function heredocsOf(line: string): Omit<Heredoc, 'content'>[] {
  const docs: Omit<Heredoc, 'content'>[] = [];
  let words: string[];
  try {
    words = expandWords(line, {}, { rawQuotes: true, skipUnset: true });
  } catch {
    return docs;
  }
  for (const w of words) {
    const m = HEREDOC.exec(w);
    if (!m || m[3] === '') continue;
    const plain = expandWords(m[3]!, {}, { skipUnset: true });
    if (plain.length !== 1) continue;
    const raw = expandWords(m[3]!, {}, { skipUnset: true, rawQuotes: true });
    const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
    docs.push({
      name: plain[0]!,
      expand: quotes(plain[0]!) === quotes(raw[0]!),
      chomp: m[2] === '-',
      fd: m[1] ? Number(m[1]) : 0,
    });
  }
  return docs;
}
