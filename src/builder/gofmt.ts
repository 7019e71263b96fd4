/**
 * Go's fmt verbs as the classic builder uses them in commit messages (history
 * `created_by`): `%q` of strings, string slices and ints, `%v` of slices, and
 * time.Duration's String(). Matching them byte for byte keeps berth's history,
 * and so its build cache keys, identical to dockerd's.
 */

const ESC: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** strconv.Quote (printable Unicode kept as is). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ESC[ch]) out += ESC[ch];
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** `%q` of a []string: `["a" "b"]`. */
export function goQuoteSlice(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).map(goQuote).join(' ')}]`;
}

/** `%v` of a []string: `[a b]`. */
export function goSlice(list: readonly string[] | null | undefined): string {
  return `[${(list ?? []).join(' ')}]`;
}

/** `%q` of an int: strconv.QuoteRune. */
export function goQuoteRune(n: number): string {
  if (n === 0x27) return "'\\''";
  if (n === 0x5c) return "'\\\\'";
  const ch = String.fromCodePoint(n);
  if (ESC[ch] && ch !== '"') return `'${ESC[ch]}'`;
  if (n < 0x20 || n === 0x7f) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  if (n >= 0x80 && n < 0xa0) return `'\\u${n.toString(16).padStart(4, '0')}'`;
  return `'${ch}'`;
}

/** time.Duration.String() of a count of nanoseconds: "0s", "1.5s", "500ms", "1h2m3s". */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = fraction(u, div as number) + unit;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    out = `${fraction(u, 1e9)}s`;
    if (h > 0 || m > 0) out = `${m}m${out}`;
    if (h > 0) out = `${h}h${out}`;
  }
  return neg ? `-${out}` : out;
}

function fraction(v: number, div: number): string {
  const whole = Math.floor(v / div);
  const rest = v - whole * div;
  if (rest === 0) return String(whole);
  const digits = String(div).length - 1;
  return `${whole}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}
