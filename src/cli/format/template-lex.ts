/**
 * Lexer for the Go text/template subset (see template.ts). Mirrors Go's
 * text/template/parse lexer: text between actions, `{{`/`}}` delimiters with
 * `{{- ` / ` -}}` trim markers, `{{/* comments *\/}}`, and action tokens.
 */
import { invalid } from '../../core/errors.js';

export type TokType =
  | 'text'
  | 'left'
  | 'right'
  | 'space'
  | 'eof'
  | 'field'
  | 'ident'
  | 'keyword'
  | 'dot'
  | 'variable'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma';

export interface Token {
  type: TokType;
  /** Raw source text of the token (text tokens: already trimmed). */
  val: string;
  /** Offset in the template source. */
  pos: number;
  /** 1-based line of the token's start. */
  line: number;
}

export const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);

const LEFT = '{{';
const RIGHT = '}}';
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
/** Go's letter, digit or underscore; ASCII without the Unicode class (its first use costs ms: start-up). */
const isAlnum = (c: string | undefined) =>
  c !== undefined && (c < '\x80' ? /[A-Za-z0-9_]/.test(c) : /[\p{L}\p{Nd}_]/u.test(c));

/** Go's item.String() rendering of a token, used in parse error messages. */
export function tokenString(t: Token): string {
  if (t.type === 'eof') return 'EOF';
  if (t.type === 'keyword') return `<${t.val}>`;
  if (t.val.length > 10) return `${JSON.stringify(t.val.slice(0, 10))}...`;
  return JSON.stringify(t.val);
}

/** A parse-time error in Go's format: `template: NAME:LINE: msg`. */
export function parseError(name: string, line: number, msg: string): Error {
  return invalid('template_parse', `template: ${name}:${line}: ${msg}`);
}

/** Split template source into tokens; throws a parse error on malformed input. */
export function lex(src: string, name = ''): Token[] {
  const toks: Token[] = [];
  let pos = 0;
  let line = 1;
  let trimNextText = false;
  let parenDepth = 0;
  const fail = (msg: string, at = pos): never => {
    throw parseError(name, 1 + countNl(src, 0, at), msg);
  };
  const emit = (type: TokType, start: number, end: number, val = src.slice(start, end)) => {
    toks.push({ type, val, pos: start, line });
    line += countNl(src, start, end);
  };

  while (pos <= src.length) {
    // ---- text up to the next left delimiter
    const next = src.indexOf(LEFT, pos);
    const textEnd = next < 0 ? src.length : next;
    let text = src.slice(pos, textEnd);
    const trimLeftOfAction = next >= 0 && src[next + 2] === '-' && isSpace(src[next + 3]);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    if (trimLeftOfAction) text = text.replace(/[ \t\r\n]+$/, '');
    trimNextText = false;
    if (text.length > 0) toks.push({ type: 'text', val: text, pos, line });
    line += countNl(src, pos, textEnd);
    if (next < 0) break;

    // ---- action
    pos = next;
    let inner = next + 2;
    if (trimLeftOfAction) inner += 2;
    // comment?
    if (src.startsWith('/*', inner)) {
      const close = src.indexOf('*/', inner + 2);
      if (close < 0) fail('unclosed comment');
      let after = close + 2;
      let trimR = false;
      if (isSpace(src[after]) && src[after + 1] === '-' && src.startsWith(RIGHT, after + 2)) {
        trimR = true;
        after += 2;
      }
      if (!src.startsWith(RIGHT, after)) fail('comment ends before closing delimiter');
      line += countNl(src, pos, after + 2);
      pos = after + 2;
      trimNextText = trimR;
      continue;
    }
    emit('left', pos, next + 2, LEFT);
    pos = inner;
    for (;;) {
      // right delimiter (with optional trim marker)
      if (isSpace(src[pos]) && src[pos + 1] === '-' && src.startsWith(RIGHT, pos + 2)) {
        if (parenDepth > 0) fail('unclosed left paren');
        emit('right', pos, pos + 4, RIGHT);
        pos += 4;
        trimNextText = true;
        break;
      }
      if (src.startsWith(RIGHT, pos)) {
        if (parenDepth > 0) fail('unclosed left paren');
        emit('right', pos, pos + 2, RIGHT);
        pos += 2;
        break;
      }
      const c = src[pos];
      if (c === undefined) return fail('unclosed action');
      const start = pos;
      if (isSpace(c)) {
        while (isSpace(src[pos]) && !(src[pos + 1] === '-' && src.startsWith(RIGHT, pos + 2))) pos++;
        emit('space', start, pos);
        continue;
      }
      switch (c) {
        case '|':
          pos++;
          emit('pipe', start, pos);
          continue;
        case ',':
          pos++;
          emit('comma', start, pos);
          continue;
        case '(':
          pos++;
          parenDepth++;
          emit('lparen', start, pos);
          continue;
        case ')':
          pos++;
          if (--parenDepth < 0) fail('unexpected right paren');
          emit('rparen', start, pos);
          continue;
        case '=':
          pos++;
          emit('assign', start, pos);
          continue;
        case ':':
          if (src[pos + 1] !== '=') fail('expected :=');
          pos += 2;
          emit('declare', start, pos);
          continue;
        case '"': {
          pos++;
          for (;;) {
            const d = src[pos];
            if (d === undefined || d === '\n') fail('unterminated quoted string');
            pos++;
            if (d === '\\') {
              if (src[pos] === undefined || src[pos] === '\n') fail('unterminated quoted string');
              pos++;
            } else if (d === '"') break;
          }
          emit('string', start, pos);
          continue;
        }
        case '`': {
          const close = src.indexOf('`', pos + 1);
          if (close < 0) fail('unterminated raw quoted string');
          pos = close + 1;
          emit('rawString', start, pos);
          continue;
        }
        case "'": {
          pos++;
          for (;;) {
            const d = src[pos];
            if (d === undefined || d === '\n') fail('unterminated character constant');
            pos++;
            if (d === '\\') pos++;
            else if (d === "'") break;
          }
          emit('char', start, pos);
          continue;
        }
        case '$': {
          pos++;
          while (isAlnum(src[pos])) pos++;
          if (!atTerminator(src, pos)) fail(`bad character ${goRune(src[pos] ?? '')}`);
          emit('variable', start, pos);
          continue;
        }
        case '.': {
          if (/[0-9]/.test(src[pos + 1] ?? '')) {
            pos = lexNumber(src, pos, fail);
            emit('number', start, pos);
            continue;
          }
          pos++;
          if (!isAlnum(src[pos])) {
            emit('dot', start, pos);
            continue;
          }
          while (isAlnum(src[pos])) pos++;
          if (!atTerminator(src, pos)) fail(`bad character ${goRune(src[pos] ?? '')}`);
          emit('field', start, pos);
          continue;
        }
      }
      if (/[0-9+-]/.test(c)) {
        pos = lexNumber(src, pos, fail);
        emit('number', start, pos);
        continue;
      }
      if (isAlnum(c)) {
        while (isAlnum(src[pos])) pos++;
        const word = src.slice(start, pos);
        if (KEYWORDS.has(word)) emit('keyword', start, pos);
        else if (word === 'true' || word === 'false') emit('bool', start, pos);
        else if (word === 'nil') emit('nil', start, pos);
        else emit('ident', start, pos);
        // Go: an identifier must be followed by space, delimiter or punctuation
        if (!atTerminator(src, pos)) fail(`bad character ${goRune(src[pos] ?? '')}`);
        continue;
      }
      fail(`unrecognized character in action: ${goRune(c)}`);
    }
  }
  toks.push({ type: 'eof', val: '', pos: src.length, line });
  return toks;
}

/** Go's atTerminator: what may directly follow an identifier, field or variable. */
function atTerminator(src: string, pos: number): boolean {
  const c = src[pos];
  return c === undefined || isSpace(c) || '.,|:()'.includes(c) || src.startsWith(RIGHT, pos);
}

function lexNumber(src: string, pos: number, fail: (m: string, at?: number) => never): number {
  const m =
    /^[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[oO][0-7_]+|0[bB][01_]+|([0-9_]+\.?[0-9_]*|\.[0-9_]+)([eE][+-]?[0-9_]+)?)i?/.exec(
      src.slice(pos),
    );
  const end = pos + (m ? m[0].length : 0);
  if (!m || isAlnum(src[end]) || src[end] === '.') {
    let bad = end;
    while (bad < src.length && (isAlnum(src[bad]) || src[bad] === '.')) bad++;
    return fail(`bad number syntax: ${JSON.stringify(src.slice(pos, Math.max(bad, pos + 1)))}`);
  }
  return end;
}

/** Go's %#U rendering of a rune: U+0023 '#'. */
function goRune(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

function countNl(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}
