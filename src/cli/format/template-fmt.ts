/**
 * Go `fmt` emulation for template output: %v printing of JS values the way Go
 * prints the equivalent Go values, Sprintf/Sprint/Sprintln, strconv-exact
 * float formatting (%e %f %g, shortest %v) and strconv.Quote.
 *
 * Value model: JS string/number/boolean/bigint/array/object/Map/Date stand for
 * Go string/int-or-float64/bool/int64/[]interface{}/map[string]interface{}/time.Time.
 * An integer-valued number prints like a Go int, any other like a float64.
 * `MISSING` stands for Go's "no value" (a missing map key, a nil interface);
 * `null`/`undefined` stand for a struct field's zero value and print as "".
 */

/** Go's invalid reflect.Value: a missing map key or a nil interface. */
export const MISSING: unique symbol = Symbol('<no value>');

/** Go type name of a value, as used in fmt's %!verb(type=value) and template errors. */
export function goTypeName(v: unknown): string {
  if (v === MISSING) return '<nil>';
  if (v === null || v === undefined) return 'string';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return isGoInt(v) ? 'int' : 'float64';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'function') return 'func(...) interface {}';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof Date) return 'time.Time';
  return 'map[string]interface {}';
}

/** True if a JS number should behave as a Go int (integer-valued, fits int64). */
export function isGoInt(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63;
}

/**
 * Properties of an object as template fields: own enumerable data properties
 * plus getters defined on class prototypes; function-valued ones (methods) are
 * left out. Maps yield their entries.
 */
export function objectEntries(v: object): [unknown, unknown][] {
  if (v instanceof Map) return [...v.entries()];
  const out = Object.entries(v).filter(([, x]) => typeof x !== 'function');
  const seen = new Set(out.map(([k]) => k));
  for (let p = Object.getPrototypeOf(v); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(p))) {
      if (!d.get || seen.has(k)) continue;
      seen.add(k);
      const x = (v as Record<string, unknown>)[k];
      if (typeof x !== 'function') out.push([k, x]);
    }
  }
  return out;
}

/** Look a field up like Go does on a map or struct: own properties, then class prototypes. */
export function lookupField(v: object, key: string): { found: boolean; value?: unknown } {
  if (v instanceof Map) return v.has(key) ? { found: true, value: v.get(key) } : { found: false };
  for (let o: object | null = v; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    if (Object.prototype.hasOwnProperty.call(o, key))
      return { found: true, value: (v as Record<string, unknown>)[key] };
  }
  return { found: false };
}

/** Entries of a map-like value in Go's fmt/range order (sorted keys). */
export function sortedEntries(v: object): [unknown, unknown][] {
  return objectEntries(v).sort(([a], [b]) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0,
  );
}

/** Go time.Time.String() of a Date, in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
export function goTimeString(d: Date): string {
  const iso = d.toISOString(); // 2006-01-02T15:04:05.123Z
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ''} +0000 UTC`;
}

// ---------------------------------------------------------------- decimal

interface Dec {
  d: string;
  dp: number;
} // value = 0.d × 10^dp; d has no trailing zeros

/** Exact decimal expansion of a finite non-negative double. */
function exactDec(x: number): Dec {
  if (x === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e2: number;
  if (bexp === 0) e2 = -1074;
  else {
    mant |= 1n << 52n;
    e2 = bexp - 1075;
  }
  let digits: string;
  let dp: number;
  if (e2 >= 0) {
    digits = (mant << BigInt(e2)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-e2)).toString();
    dp = digits.length + e2;
  }
  return trimDec({ d: digits, dp });
}

function trimDec(x: Dec): Dec {
  let d = x.d.replace(/0+$/, '');
  let dp = x.dp;
  const lead = /^0*/.exec(d)![0].length;
  d = d.slice(lead);
  dp -= lead;
  return d ? { d, dp } : { d: '', dp: 0 };
}

/** Shortest decimal that round-trips (same digits as Go's shortest formatting). */
function shortestDec(x: number): Dec {
  if (x === 0) return { d: '', dp: 0 };
  const [m, e] = x.toExponential().split('e') as [string, string];
  return trimDec({ d: m.replace('.', ''), dp: Number(e) + 1 });
}

/** Round to nd digits, half-to-even on exact ties (Go's decimal.Round). */
function roundDec(x: Dec, nd: number): Dec {
  if (nd < 0 || nd >= x.d.length) return x;
  const c = x.d[nd]!;
  const up = c > '5' || (c === '5' && (nd + 1 < x.d.length || (nd > 0 && Number(x.d[nd - 1]) % 2 === 1)));
  if (!up) return trimDec({ d: x.d.slice(0, nd), dp: x.dp });
  let i = nd - 1;
  while (i >= 0 && x.d[i] === '9') i--;
  if (i < 0) return { d: '1', dp: x.dp + 1 };
  return { d: x.d.slice(0, i) + String(Number(x.d[i]) + 1), dp: x.dp };
}

function fmtE(x: Dec, prec: number, e: 'e' | 'E'): string {
  let s = x.d[0] ?? '0';
  if (prec > 0) s += `.${x.d.slice(1, prec + 1).padEnd(prec, '0')}`;
  const exp = x.d.length === 0 ? 0 : x.dp - 1;
  return `${s}${e}${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function fmtF(x: Dec, prec: number): string {
  let s = x.dp > 0 ? x.d.slice(0, x.dp).padEnd(x.dp, '0') : '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += x.d[x.dp + i - 1] ?? '0';
  }
  return s;
}

/** Go's strconv.FormatFloat(x, fmt, prec, 64); prec -1 means shortest. */
export function formatFloat(x: number, fmt: 'e' | 'E' | 'f' | 'g' | 'G', prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const shortest = prec < 0;
  let d = shortest ? shortestDec(Math.abs(x)) : exactDec(Math.abs(x));
  const lower = fmt.toLowerCase();
  if (shortest) {
    prec = lower === 'e' ? Math.max(d.d.length - 1, 0) : lower === 'f' ? Math.max(d.d.length - d.dp, 0) : d.d.length;
  } else if (lower === 'e') d = roundDec(d, prec + 1);
  else if (lower === 'f') d = roundDec(d, d.dp + prec);
  else {
    if (prec === 0) prec = 1;
    d = roundDec(d, prec);
  }
  let body: string;
  if (lower === 'e') body = fmtE(d, prec, fmt === 'E' ? 'E' : 'e');
  else if (lower === 'f') body = fmtF(d, prec);
  else {
    let eprec = prec;
    if (eprec > d.d.length && d.d.length >= d.dp) eprec = d.d.length;
    if (shortest) eprec = 6;
    const exp = d.dp - 1;
    if (exp < -4 || exp >= eprec) body = fmtE(d, Math.min(prec, d.d.length) - 1, fmt === 'G' ? 'E' : 'e');
    else body = fmtF(d, Math.max((prec > d.dp ? d.d.length : prec) - d.dp, 0));
  }
  return (neg ? '-' : '') + body;
}

// ---------------------------------------------------------------- quoting

/** Go's unicode.IsPrint beyond ASCII; made when first needed (a Unicode class costs ms to make: start-up). */
let printable: RegExp | undefined;

function escapeRune(ch: string, quote: string): string {
  const cp = ch.codePointAt(0)!;
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (cp >= 0x20 && cp < 0x7f) return ch;
  printable ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
  if (cp >= 0x80 && printable.test(ch) && !(cp >= 0xd800 && cp < 0xe000)) return ch;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };
  if (named[cp]) return named[cp]!;
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp >= 0xd800 && cp < 0xe000) return '\\ufffd';
  return cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch, '"');
  return `${out}"`;
}

// ---------------------------------------------------------------- printing

/** Go's fmt %v rendering of a value (nested nil prints `<nil>`). */
export function formatV(v: unknown): string {
  return new Printer().value(v, 'v', 0);
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && !isStr(a) && !isStr(args[i - 1])) out += ' ';
    out += new Printer().arg(a, 'v');
  });
  return out;
}

/** fmt.Sprintln: spaces between all operands, trailing newline. */
export function sprintln(args: unknown[]): string {
  return `${args.map((a) => new Printer().arg(a, 'v')).join(' ')}\n`;
}

const isStr = (a: unknown) => typeof a === 'string' || a === null || a === undefined;

/** fmt.Sprintf with Go's verbs, flags, width/precision and error annotations. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argNum = 0;
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    const p = new Printer();
    for (; i < format.length; i++) {
      const c = format[i];
      if (c === '#') p.sharp = true;
      else if (c === '0') p.zero = !p.minus;
      else if (c === '+') p.plus = true;
      else if (c === '-') {
        p.minus = true;
        p.zero = false;
      } else if (c === ' ') p.space = true;
      else break;
    }
    const num = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const a = args[argNum++];
        if (typeof a === 'number' && isGoInt(a)) return a;
        out += '%!(BADWIDTH)';
        return undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    p.wid = num();
    if (p.wid !== undefined && p.wid < 0) {
      p.minus = true;
      p.zero = false;
      p.wid = -p.wid;
    }
    if (format[i] === '.') {
      i++;
      p.prec = num() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += p.arg(args[argNum++], verb);
  }
  if (argNum < args.length) {
    out += `%!(EXTRA ${args
      .slice(argNum)
      .map((a) => (a === MISSING ? '<nil>' : `${goTypeName(a)}=${new Printer().arg(a, 'v')}`))
      .join(', ')})`;
  }
  return out;
}

class Printer {
  sharp = false;
  zero = false;
  plus = false;
  minus = false;
  space = false;
  wid: number | undefined;
  prec: number | undefined;

  /** Format one top-level operand (null is a zero string, MISSING is nil). */
  arg(a: unknown, verb: string): string {
    if (a === null || a === undefined) a = '';
    if (a === MISSING) return verb === 'v' || verb === 'T' ? this.pad('<nil>') : `%!${verb}(<nil>)`;
    if (verb === 'T') return this.pad(goTypeName(a));
    return this.value(a, verb, 0);
  }

  value(v: unknown, verb: string, depth: number): string {
    if (v === MISSING || v === null || v === undefined) return depth === 0 ? this.pad('') : '<nil>';
    if (typeof v === 'string') return this.str(v, verb);
    if (typeof v === 'boolean') return verb === 'v' || verb === 't' ? this.pad(String(v)) : this.bad(v, verb);
    if (typeof v === 'bigint') return this.int(v, verb, v);
    if (typeof v === 'number') {
      if (isGoInt(v) && !'eEfFgG'.includes(verb)) return this.int(BigInt(v), verb, v);
      return this.float(v, verb);
    }
    if (v instanceof Date) return verb === 'v' || verb === 's' ? this.pad(goTimeString(v)) : this.bad(v, verb);
    if (typeof v === 'function') return this.bad(v, verb);
    if (Array.isArray(v)) return `[${v.map((e) => this.value(e, verb, depth + 1)).join(' ')}]`;
    return `map[${sortedEntries(v as object)
      .map(([k, e]) => `${this.value(k, verb, depth + 1)}:${this.value(e, verb, depth + 1)}`)
      .join(' ')}]`;
  }

  private bad(v: unknown, verb: string): string {
    return `%!${verb}(${goTypeName(v)}=${formatV(v)})`;
  }

  pad(s: string, zeroOk = true): string {
    const w = this.wid ?? 0;
    const n = [...s].length;
    if (n >= w) return s;
    if (this.minus) return s + ' '.repeat(w - n);
    return (this.zero && zeroOk ? '0' : ' ').repeat(w - n) + s;
  }

  private str(s: string, verb: string): string {
    if (this.prec !== undefined && verb !== 'x' && verb !== 'X') s = [...s].slice(0, this.prec).join('');
    switch (verb) {
      case 'v':
      case 's':
        return this.pad(s);
      case 'q':
        if (this.sharp && !/[`\x00-\x08\x0a-\x1f\x7f\ufeff]/.test(s)) return this.pad(`\`${s}\``);
        return this.pad(goQuote(s));
      case 'x':
      case 'X': {
        let h = [...Buffer.from(s, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(this.space ? ' ' : '');
        if (this.prec !== undefined) h = h.slice(0, this.prec * 2);
        return this.pad(verb === 'X' ? h.toUpperCase() : h);
      }
      default:
        return this.bad(s, verb);
    }
  }

  private int(n: bigint, verb: string, orig: unknown): string {
    const neg = n < 0n;
    const a = neg ? -n : n;
    let digits: string;
    let prefix = '';
    switch (verb) {
      case 'v':
      case 'd':
        digits = a.toString(10);
        break;
      case 'b':
        digits = a.toString(2);
        if (this.sharp) prefix = '0b';
        break;
      case 'o':
      case 'O':
        digits = a.toString(8);
        if (verb === 'O') prefix = '0o';
        else if (this.sharp) prefix = '0';
        break;
      case 'x':
        digits = a.toString(16);
        if (this.sharp) prefix = '0x';
        break;
      case 'X':
        digits = a.toString(16).toUpperCase();
        if (this.sharp) prefix = '0X';
        break;
      case 'c':
        return this.pad(String.fromCodePoint(Number(a)));
      case 'q':
        return this.pad(`'${escapeRune(String.fromCodePoint(Number(a)), "'")}'`);
      case 'U':
        return this.pad(`U+${a.toString(16).toUpperCase().padStart(4, '0')}`);
      default:
        return this.bad(orig, verb);
    }
    const sign = neg ? '-' : this.plus ? '+' : this.space ? ' ' : '';
    if (this.prec !== undefined) {
      if (this.prec === 0 && a === 0n) digits = '';
      digits = digits.padStart(this.prec, '0');
    } else if (this.zero && this.wid !== undefined && !this.minus) {
      digits = digits.padStart(this.wid - (sign ? 1 : 0), '0');
    }
    return this.pad(sign + prefix + digits, false);
  }

  private float(x: number, verb: string): string {
    if (!'vbgGeEfFxX'.includes(verb) || 'bxX'.includes(verb)) return this.bad(x, verb);
    const f = (verb === 'v' ? 'g' : verb === 'F' ? 'f' : verb) as 'e' | 'E' | 'f' | 'g' | 'G';
    const prec = this.prec ?? (f === 'g' || f === 'G' ? -1 : 6);
    let s = formatFloat(x, f, prec);
    if (this.plus && !s.startsWith('-')) s = `+${s}`;
    else if (this.space && !s.startsWith('-')) s = ` ${s}`;
    if (this.zero && !this.minus && this.wid !== undefined && Number.isFinite(x) && [...s].length < this.wid) {
      const sign = /^[+\- ]/.test(s) ? s[0]! : '';
      return sign + s.slice(sign.length).padStart(this.wid - sign.length, '0');
    }
    return this.pad(s, false);
  }
}
