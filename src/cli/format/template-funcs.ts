/**
 * Template functions: Go text/template's builtins plus the ones docker's CLI
 * registers (templates.basicFunctions), and docker's HeaderFunctions used to
 * render table headers. Also Go encoding/json output for the `json` function.
 */
import {
  MISSING,
  formatV,
  goTypeName,
  lookupField,
  objectEntries,
  sortedEntries,
  sprint,
  sprintf,
  sprintln,
} from './template-fmt.js';
import { rfc3339Nano } from '../../core/time.js';

/** Parameter kinds checked the way Go's reflect-based call checks them. */
/* eslint-disable @typescript-eslint/no-explicit-any -- Go template functions take values of any type */
export type ParamKind = 'any' | 'string' | 'int' | 'strings';

/** A template function: parameter kinds (last repeats if variadic) and implementation. */
export interface FuncSpec {
  params: ParamKind[];
  variadic?: boolean;
  fn: (...args: any[]) => unknown;
}

/** Functions a caller may register: a spec, or a plain JS function (variadic `any`). */
export type FuncMap = Record<string, FuncSpec | ((...args: any[]) => unknown)>;

/** Normalize a registered function to a spec. */
export function toSpec(f: FuncSpec | ((...args: any[]) => unknown)): FuncSpec {
  return typeof f === 'function' ? { params: ['any'], variadic: true, fn: f } : f;
}

const contextObjects = new WeakSet<object>();

/**
 * Mark an object as a docker "formatter context": `json` then encodes it like
 * docker's formatter.MarshalJSON does (keys sorted, HTML characters escaped
 * as \u003c etc.), e.g. `{"Digest":"\u003cnone\u003e",...}`.
 */
export function markAsContext<T extends object>(obj: T): T {
  contextObjects.add(obj);
  return obj;
}

/**
 * Go encoding/json encoding of a value: compact, no trailing newline.
 * Object keys keep insertion order (struct fields) unless `sortKeys` (maps);
 * JS Maps always sort. `escapeHTML` escapes <, > and & as json.Marshal does.
 * Returns "" when the value can't be encoded (NaN, Infinity, cycles), as
 * docker's `json` function (which ignores the encoder's error) does.
 */
export function goJSON(v: unknown, opts: { sortKeys?: boolean; escapeHTML?: boolean } = {}): string {
  const seen = new Set<object>();
  const enc = (x: unknown, sort: boolean): string => {
    if (x === MISSING || x === null || x === undefined) return 'null';
    if (typeof x === 'string') return quoteJSON(x);
    if (typeof x === 'boolean') return String(x);
    if (typeof x === 'bigint') return x.toString();
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw new Error('json: unsupported value');
      return Object.is(x, -0) ? '-0' : String(x);
    }
    if (typeof x === 'function' || typeof x === 'symbol') return 'null';
    if (x instanceof Date) return quoteJSON(rfc3339Nano(x.toISOString()));
    if (seen.has(x as object)) throw new Error('json: unsupported value: encountered a cycle');
    seen.add(x as object);
    try {
      if (Array.isArray(x)) return `[${x.map((e) => enc(e, false)).join(',')}]`;
      if (!(x instanceof Map) && typeof (x as { toJSON?: unknown }).toJSON === 'function')
        return enc((x as { toJSON(): unknown }).toJSON(), false);
      const entries = x instanceof Map || sort ? sortedEntries(x as object) : objectEntries(x as object);
      return `{${entries.map(([k, e]) => `${quoteJSON(String(k))}:${enc(e, false)}`).join(',')}}`;
    } finally {
      seen.delete(x as object);
    }
  };
  let s: string;
  try {
    s = enc(v, opts.sortKeys ?? false);
  } catch {
    return '';
  }
  return opts.escapeHTML ? s.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : s;
}

function quoteJSON(s: string): string {
  return JSON.stringify(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'))
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Go's template truth: non-zero, non-empty, non-nil. */
export function isTrue(v: unknown): boolean {
  if (v === MISSING || v === null || v === undefined) return false;
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'boolean':
      return v;
    case 'number':
      return v !== 0;
    case 'bigint':
      return v !== 0n;
    case 'function':
      return true;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  if (v instanceof Date) return true;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return true; // class instance: a Go struct, always true
  return Object.keys(v as object).length > 0;
}

const fail = (msg: string): never => {
  throw new Error(msg);
};
const isNil = (v: unknown) => v === MISSING || v === null || v === undefined;
type Kind = 'bool' | 'number' | 'string' | 'other';
const basicKind = (v: unknown): Kind =>
  typeof v === 'boolean'
    ? 'bool'
    : typeof v === 'number' || typeof v === 'bigint'
      ? 'number'
      : typeof v === 'string'
        ? 'string'
        : 'other';

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) fail('missing argument for comparison');
  for (const b of rest) {
    let truth = false;
    if (isNil(a) || isNil(b)) truth = isNil(a) && isNil(b);
    else {
      const ka = basicKind(a);
      if (ka !== basicKind(b)) fail('incompatible types for comparison');
      if (ka !== 'other')
        truth = a == b; // number vs bigint, by value
      else if (a instanceof Date && b instanceof Date) truth = a.getTime() === b.getTime();
      else fail(`non-comparable type ${formatV(a)}: ${goTypeName(a)}`);
    }
    if (truth) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'other' || ka === 'bool' || kb === 'other' || kb === 'bool') fail('invalid type for comparison');
  if (ka !== kb) fail('incompatible types for comparison');
  return (a as number | string) < (b as number | string);
}

function length(v: unknown): number {
  if (v === MISSING) fail('len of nil pointer');
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  if (typeof v === 'object' && !(v instanceof Date)) return objectEntries(v).length;
  return fail(`len of type ${goTypeName(v)}`);
}

function toIndex(x: unknown, cap: number): number {
  if (typeof x === 'bigint') x = Number(x);
  if (typeof x !== 'number' || !Number.isInteger(x)) fail(`cannot index slice/array with type ${goTypeName(x)}`);
  const n = x as number;
  if (n < 0 || n >= cap) fail(`index out of range: ${n}`);
  return n;
}

function index(item: unknown, ...idx: unknown[]): unknown {
  let v = item;
  for (const k of idx) {
    if (v === MISSING) fail('index of untyped nil');
    if (v === null || v === undefined) return null; // nil map/slice: zero value
    if (typeof v === 'string') v = Buffer.from(v, 'utf8')[toIndex(k, Buffer.byteLength(v, 'utf8'))];
    else if (Array.isArray(v)) v = v[toIndex(k, v.length)];
    else if (v instanceof Map) v = v.has(k) ? v.get(k) : null;
    else if (typeof v === 'object' && !(v instanceof Date)) {
      if (typeof k !== 'string') fail(`value has type ${goTypeName(k)}; should be string`);
      const r = lookupField(v, k as string);
      v = r.found ? r.value : null;
    } else fail(`can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (item === MISSING || item === null || item === undefined) fail('slice of untyped nil');
  if (idx.length > 3) fail(`too many slice indexes: ${idx.length}`);
  const isStr = typeof item === 'string';
  if (!isStr && !Array.isArray(item)) fail(`can't slice item of type ${goTypeName(item)}`);
  if (isStr && idx.length === 3) fail('cannot 3-index slice a string');
  const buf = isStr ? Buffer.from(item as string, 'utf8') : undefined;
  const len = buf ? buf.length : (item as unknown[]).length;
  const ix = [0, len];
  idx.slice(0, 2).forEach((k, i) => {
    ix[i] = toIndex(k, len + 1);
  });
  if (ix[0]! > ix[1]!) fail(`invalid slice index: ${ix[0]} > ${ix[1]}`);
  return buf ? buf.subarray(ix[0], ix[1]).toString('utf8') : (item as unknown[]).slice(ix[0], ix[1]);
}

/** Go's strings.Title: upper-case the first letter of each word. */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const sep = /^[\p{L}\p{N}_]$/u.test(prev) ? false : prev.charCodeAt(0) < 0x80 ? true : /\s/u.test(prev);
    out += sep ? simpleCase(ch, 'toUpperCase') : ch;
    prev = ch;
  }
  return out;
}

/** Go's strings.ToUpper/ToLower: per-rune simple case mapping ("ß" stays "ß"). */
function simpleCase(s: string, how: 'toUpperCase' | 'toLowerCase'): string {
  let out = '';
  for (const ch of s) {
    const m = ch[how]();
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

/** Go's strings.Split: an empty separator splits into UTF-8 sequences. */
function split(s: string, sep: string): string[] {
  return sep === '' ? [...s] : s.split(sep);
}

const evalArgsString = (args: unknown[]): string =>
  args.length === 1 && typeof args[0] === 'string' ? args[0] : sprint(args);

function htmlEscape(args: unknown[]): string {
  const m: Record<string, string> = {
    '<': '&lt;',
    '>': '&gt;',
    '&': '&amp;',
    "'": '&#39;',
    '"': '&#34;',
    '\0': '\uFFFD',
  };
  return evalArgsString(args).replace(/[<>&'"\0]/g, (c) => m[c]!);
}

function jsEscape(args: unknown[]): string {
  const m: Record<string, string> = {
    '\\': '\\\\',
    "'": "\\'",
    '"': '\\"',
    '<': '\\u003C',
    '>': '\\u003E',
    '&': '\\u0026',
    '=': '\\u003D',
  };
  return evalArgsString(args).replace(
    /[\\'"<>&=]|[\x00-\x1f]/g,
    (c) => m[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

function urlquery(args: unknown[]): string {
  return encodeURIComponent(evalArgsString(args))
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Go text/template builtins (and/or are short-circuited by the executor). */
export const builtinFuncs: Record<string, FuncSpec> = {
  and: { params: ['any', 'any'], variadic: true, fn: () => undefined },
  or: { params: ['any', 'any'], variadic: true, fn: () => undefined },
  not: { params: ['any'], fn: (a) => !isTrue(a) },
  len: { params: ['any'], fn: length },
  index: { params: ['any', 'any'], variadic: true, fn: index },
  slice: { params: ['any', 'any'], variadic: true, fn: slice },
  print: { params: ['any'], variadic: true, fn: (...a) => sprint(a) },
  printf: { params: ['string', 'any'], variadic: true, fn: (f: string, ...a) => sprintf(f, a) },
  println: { params: ['any'], variadic: true, fn: (...a) => sprintln(a) },
  html: { params: ['any'], variadic: true, fn: (...a) => htmlEscape(a) },
  js: { params: ['any'], variadic: true, fn: (...a) => jsEscape(a) },
  urlquery: { params: ['any'], variadic: true, fn: (...a) => urlquery(a) },
  eq: { params: ['any', 'any'], variadic: true, fn: eq },
  ne: { params: ['any', 'any'], fn: (a, b) => !eq(a, b) },
  lt: { params: ['any', 'any'], fn: lt },
  le: { params: ['any', 'any'], fn: (a, b) => lt(a, b) || eq(a, b) },
  gt: { params: ['any', 'any'], fn: (a, b) => !lt(a, b) && !eq(a, b) },
  ge: { params: ['any', 'any'], fn: (a, b) => !lt(a, b) },
  call: {
    params: ['any', 'any'],
    variadic: true,
    fn: (f, ...a) => (typeof f === 'function' ? f(...a) : fail(`non-function of type ${goTypeName(f)}`)),
  },
};

/** docker/cli templates.basicFunctions. */
export const dockerFuncs: Record<string, FuncSpec> = {
  json: {
    params: ['any'],
    fn: (v) => goJSON(v, contextObjects.has(v as object) ? { sortKeys: true, escapeHTML: true } : {}),
  },
  split: { params: ['string', 'string'], fn: split },
  join: { params: ['strings', 'string'], fn: (a: string[], sep: string) => a.join(sep) },
  title: { params: ['string'], fn: title },
  lower: { params: ['string'], fn: (s: string) => simpleCase(s, 'toLowerCase') },
  upper: { params: ['string'], fn: (s: string) => simpleCase(s, 'toUpperCase') },
  pad: {
    params: ['string', 'int', 'int'],
    fn: (s: string, l: number, r: number) =>
      s === '' ? s : ' '.repeat(Math.max(l, 0)) + s + ' '.repeat(Math.max(r, 0)),
  },
  truncate: {
    params: ['string', 'int'],
    fn: (s: string, n: number) => {
      const cps = [...s];
      if (cps.length < n) return s;
      if (n < 0) fail(`runtime error: slice bounds out of range [:${n}]`);
      return cps.slice(0, n).join('');
    },
  },
};

const ident1 = (v: string) => v;
/** docker/cli templates.HeaderFunctions: leave header names intact. */
export const headerFuncs: Record<string, FuncSpec> = {
  json: { params: ['string'], fn: ident1 },
  split: { params: ['string', 'string'], fn: ident1 },
  join: { params: ['string', 'string'], fn: ident1 },
  title: { params: ['string'], fn: ident1 },
  lower: { params: ['string'], fn: ident1 },
  upper: { params: ['string'], fn: ident1 },
  truncate: { params: ['string', 'int'], fn: ident1 },
};
