/**
 * Variable substitution with the rules of buildkit's Dockerfile shell lexer
 * (frontend/dockerfile/shell): `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:+a}`,
 * `${V+a}`, `${V:?m}`, `${V?m}`; single quotes suppress expansion, double quotes
 * suppress word splitting, the escape char (`\` or `` ` ``) makes the next
 * character literal. Quotes are removed from the result, as a shell would.
 *
 * The lexer does not know which instruction it serves; the table below says
 * where the builder must call it (RUN/CMD/ENTRYPOINT are left to the shell).
 */
import { invalid } from '../core/errors.js';

export type Env = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/** Instructions whose arguments Docker expands before use. ONBUILD is expanded when it triggers, not when declared. */
export const EXPANDING_INSTRUCTIONS: ReadonlySet<string> = new Set([
  'ADD',
  'ARG',
  'COPY',
  'ENV',
  'EXPOSE',
  'FROM',
  'LABEL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/**
 * Flags whose values are expanded, per instruction (RUN --mount fields are expanded too, but mounts are not modelled
 * yet).
 */
export const EXPANDING_FLAGS: Readonly<Record<string, readonly string[]>> = {
  ADD: ['chown', 'chmod'],
  COPY: ['from', 'chown', 'chmod'],
  FROM: ['platform'],
};

/** Instructions where one expanded argument may become several words (`EXPOSE $PORTS`). */
export const WORD_SPLITTING_INSTRUCTIONS: ReadonlySet<string> = new Set(['EXPOSE']);

export interface LexOptions {
  escape?: '\\' | '`';
  /** Leave `$V` as written when V is unset (used for heredoc names). */
  skipUnset?: boolean;
  /** Keep quote characters in the output. */
  rawQuotes?: boolean;
}

/** Expand one word: quotes removed, no splitting. */
export function expand(word: string, env: Env, opts: LexOptions = {}): string {
  return new Lexer(word, env, opts).run().text;
}

/** Expand and split into words on unquoted whitespace (including whitespace produced by an unquoted `$V`). */
export function expandWords(text: string, env: Env, opts: LexOptions = {}): string[] {
  return new Lexer(text, env, opts).run().words;
}

class Words {
  readonly list: string[] = [];
  private word = '';
  private inWord = false;
  addChar(ch: string): void {
    if (/\s/.test(ch)) {
      if (this.inWord) this.list.push(this.word);
      this.word = '';
      this.inWord = false;
    } else this.addRaw(ch);
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  addSplit(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  finish(): string[] {
    if (this.inWord) this.list.push(this.word);
    this.inWord = false;
    this.word = '';
    return this.list;
  }
}

const isSpecialParam = (ch: string) => '@*#?-$!0'.includes(ch);

class Lexer {
  private pos = 0;
  private readonly esc: string;
  constructor(
    private readonly src: string,
    private readonly env: Env,
    private readonly opts: LexOptions,
  ) {
    this.esc = opts.escape ?? '\\';
  }

  run(): { text: string; words: string[] } {
    const r = this.until(undefined);
    return { text: r.text, words: r.words };
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }
  private next(): string | undefined {
    return this.src[this.pos++];
  }

  private lookup(name: string): string | undefined {
    const env = this.env;
    if (env instanceof Map) return env.get(name);
    return Object.prototype.hasOwnProperty.call(env, name) ? (env as Record<string, string>)[name] : undefined;
  }

  /** Read until `stop` (consumed) or end of input. */
  private until(stop: string | undefined): { text: string; words: string[]; stopped: boolean } {
    let text = '';
    const words = new Words();
    while (this.pos < this.src.length) {
      const ch = this.peek()!;
      if (stop !== undefined && ch === stop) {
        this.pos++;
        return { text, words: words.finish(), stopped: true };
      }
      if (ch === "'" || ch === '"') {
        const s = ch === "'" ? this.singleQuoted() : this.doubleQuoted();
        text += s;
        words.addRaw(s);
      } else if (ch === '$') {
        const s = this.dollar();
        text += s;
        words.addSplit(s);
      } else {
        this.pos++;
        if (ch === this.esc) {
          const n = this.next();
          if (n === undefined) break;
          text += n;
          words.addRaw(n);
        } else {
          text += ch;
          words.addChar(ch);
        }
      }
    }
    return { text, words: words.finish(), stopped: false };
  }

  private singleQuoted(): string {
    this.pos++;
    let out = this.opts.rawQuotes ? "'" : '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined)
        throw invalid('dockerfile_syntax', 'unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return this.opts.rawQuotes ? out + "'" : out;
      out += ch;
    }
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = this.opts.rawQuotes ? '"' : '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined)
        throw invalid('dockerfile_syntax', 'unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.pos++;
        return this.opts.rawQuotes ? out + '"' : out;
      }
      if (ch === '$') {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (ch === this.esc) {
        const n = this.peek();
        if (n === '"' || n === '$' || n === this.esc) {
          this.pos++;
          out += n;
          continue;
        }
      }
      out += ch;
    }
  }

  private name(): string {
    let name = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) return name;
      if (name === '' && /[0-9]/.test(ch)) {
        while (this.peek() !== undefined && /[0-9]/.test(this.peek()!)) name += this.next();
        return name;
      }
      if (name === '' && isSpecialParam(ch)) {
        this.pos++;
        return ch;
      }
      if (!/[\p{L}\p{N}_]/u.test(ch)) return name;
      name += this.next();
    }
  }

  private dollar(): string {
    this.pos++;
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnset) return '$' + name;
      return v ?? '';
    }
    this.pos++;
    const first = this.peek();
    if (first === undefined) throw invalid('dockerfile_syntax', "syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':')
      throw invalid('dockerfile_syntax', 'syntax error: bad substitution');
    const name = this.name();
    const op = this.next();
    if (op === undefined) throw invalid('dockerfile_syntax', "syntax error: missing '}'");
    const value = this.lookup(name);
    if (op === '}') {
      if (value === undefined && this.opts.skipUnset) return '${' + name + '}';
      return value ?? '';
    }
    let colon = false;
    let mod = op;
    if (op === ':') {
      colon = true;
      const m = this.next();
      if (m === undefined) throw invalid('dockerfile_syntax', "syntax error: missing '}'");
      mod = m;
    }
    if (mod !== '-' && mod !== '+' && mod !== '?') {
      throw invalid('dockerfile_syntax', `unsupported modifier (${mod}) in substitution`);
    }
    const r = this.until('}');
    if (!r.stopped) throw invalid('dockerfile_syntax', "syntax error: missing '}'");
    const word = r.text;
    if (value === undefined && this.opts.skipUnset) return '${' + name + (colon ? ':' : '') + mod + word + '}';
    const empty = colon ? !value : value === undefined;
    switch (mod) {
      case '-':
        return empty ? word : value!;
      case '+':
        return empty ? '' : word;
      default:
        if (value === undefined) throw invalid('dockerfile_syntax', `${name}: ${word || 'is not allowed to be unset'}`);
        if (colon && value === '')
          throw invalid('dockerfile_syntax', `${name}: ${word || 'is not allowed to be empty'}`);
        return value;
    }
  }
}
