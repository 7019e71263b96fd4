import { invalid } from '../core/errors.js';

/**
 * One tar header, after PAX and GNU long-name records have been folded in.
 * Names are raw as in the archive (not cleaned); callers decide what they mean.
 */
export interface TarHeader {
  name: string;
  linkname: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number; // seconds since the epoch (may be fractional from PAX)
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* records, name without the prefix. */
  xattrs: Map<string, Buffer>;
}

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export const BLOCK = 512;

const TYPE_BY_FLAG: Record<string, TarType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
const FLAG_BY_TYPE: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

/** Flags of records that modify the next header rather than describe a file. */
export type MetaFlag = 'x' | 'g' | 'L' | 'K';
export function isMetaFlag(f: string): f is MetaFlag {
  return f === 'x' || f === 'g' || f === 'L' || f === 'K';
}

export function isZeroBlock(b: Buffer, off: number): boolean {
  for (let i = off; i < off + BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

function cstr(b: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return b.toString('utf8', off, end);
}

/** Parse a numeric field: octal (space/NUL padded) or GNU base-256 (high bit set). */
export function parseNumeric(b: Buffer, off: number, len: number, field: string): number {
  const first = b[off]!;
  if (first & 0x80) {
    // base-256, two's complement; the first byte's 0x40 bit is the sign
    const negative = (first & 0x40) !== 0;
    let v = 0n;
    for (let i = 0; i < len; i++) {
      let byte = b[off + i]!;
      if (i === 0) byte &= 0x7f;
      v = (v << 8n) | BigInt(negative ? ~byte & 0xff : byte);
    }
    if (negative) throw invalid('tar_negative', `tar header: negative ${field}`);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('tar_range', `tar header: ${field} out of range`);
    return Number(v);
  }
  // the common case: optional leading spaces/NULs, octal digits, trailing spaces/NULs
  let i = off;
  const end = off + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  while (i < end && b[i]! >= 0x30 && b[i]! <= 0x37) {
    v = v * 8 + (b[i]! - 0x30);
    digits++;
    i++;
  }
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  if (i === end && digits <= 17) return v; // 8^17 < 2^53: exact
  const s = b
    .toString('latin1', off, off + len)
    .replace(/[\0 ]+$/g, '')
    .replace(/^[ \0]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw invalid('tar_numeric', `tar header: invalid ${field} ${JSON.stringify(s)}`);
  const n = parseInt(s, 8);
  if (!Number.isSafeInteger(n)) throw invalid('tar_range', `tar header: ${field} out of range`);
  return n;
}

export function checksumOf(b: Buffer, off: number): number {
  let sum = 8 * 32; // the checksum field itself counts as spaces
  for (let i = off; i < off + 148; i++) sum += b[i]!;
  for (let i = off + 156; i < off + BLOCK; i++) sum += b[i]!;
  return sum;
}

/** Raw fields of one 512-byte header block. */
export interface RawHeader {
  flag: string;
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

/** The checksum as some old tars (Sun tar) computed it: bytes summed as signed chars. */
function signedChecksumOf(b: Buffer, off: number): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b.readInt8(off + i);
  return sum;
}

export function parseBlock(b: Buffer, off: number): RawHeader {
  let stored = -1;
  try {
    stored = parseNumeric(b, off + 148, 8, 'checksum');
  } catch {
    /* reported below */
  }
  // like Go's archive/tar, accept the POSIX (unsigned) sum or the signed one some old tars wrote
  if (stored !== checksumOf(b, off) && stored !== signedChecksumOf(b, off))
    throw invalid('tar_checksum', 'tar header: checksum mismatch (not a tar archive, or corrupt)');
  const magic = b.toString('latin1', off + 257, off + 263);
  const ustar = magic === 'ustar\0' || magic === 'ustar ';
  let name = cstr(b, off, 100);
  if (magic === 'ustar\0') {
    const prefix = cstr(b, off + 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    flag: String.fromCharCode(b[off + 156]!),
    name,
    linkname: cstr(b, off + 157, 100),
    mode: parseNumeric(b, off + 100, 8, 'mode'),
    uid: parseNumeric(b, off + 108, 8, 'uid'),
    gid: parseNumeric(b, off + 116, 8, 'gid'),
    size: parseNumeric(b, off + 124, 12, 'size'),
    mtime: parseNumeric(b, off + 136, 12, 'mtime'),
    uname: ustar ? cstr(b, off + 265, 32) : '',
    gname: ustar ? cstr(b, off + 297, 32) : '',
    devmajor: ustar ? parseNumeric(b, off + 329, 8, 'devmajor') : 0,
    devminor: ustar ? parseNumeric(b, off + 337, 8, 'devminor') : 0,
  };
}

export function typeOfFlag(flag: string, name: string): TarType {
  const t = TYPE_BY_FLAG[flag];
  if (!t) {
    const what = flag === 'S' ? 'GNU sparse files are not supported' : `unsupported entry type ${JSON.stringify(flag)}`;
    throw invalid('tar_type', `tar entry ${JSON.stringify(name)}: ${what}`);
  }
  // old tars mark directories only by a trailing slash
  if (t === 'file' && flag === '\0' && name.endsWith('/')) return 'dir';
  return t;
}

/** Parse PAX extended header records "len key=value\n". */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) throw invalid('tar_pax', 'tar: malformed PAX record');
    const len = Number(data.toString('latin1', i, sp));
    if (!Number.isInteger(len) || len <= sp - i + 1 || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw invalid('tar_pax', 'tar: malformed PAX record length');
    }
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalid('tar_pax', 'tar: malformed PAX record (no "=")');
    out.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1));
    i += len;
  }
  return out;
}

/**
 * The header of an entry from its block and the records before it, as Go's
 * archive/tar (so Docker) does: PAX first, then non-empty GNU long names over
 * it; the old trailing-slash directory rule looks at the final name.
 */
export function finalHeader(
  raw: RawHeader,
  pax: Map<string, Buffer> | undefined,
  longName: string | undefined,
  longLink: string | undefined,
): TarHeader {
  const h = applyPax(raw, pax, 'file');
  if (longName) h.name = longName;
  if (longLink) h.linkname = longLink;
  h.type = typeOfFlag(raw.flag, h.name);
  return h;
}

/** Fold PAX records into a raw header, producing the final header. */
export function applyPax(raw: RawHeader, pax: Map<string, Buffer> | undefined, type: TarType): TarHeader {
  const h: TarHeader = {
    name: raw.name,
    linkname: raw.linkname,
    type,
    mode: raw.mode & 0o7777,
    uid: raw.uid,
    gid: raw.gid,
    size: raw.size,
    mtime: raw.mtime,
    uname: raw.uname,
    gname: raw.gname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    xattrs: new Map(),
  };
  if (!pax) return h;
  for (const [k, v] of pax) {
    if (v.length === 0 && !k.startsWith('SCHILY.xattr.')) continue; // as Go: an empty record keeps the USTAR value
    const s = () => v.toString('utf8');
    const num = (field: string) => {
      const n = Number(s());
      if (!Number.isFinite(n) || n < 0)
        throw invalid('tar_pax', `tar entry ${JSON.stringify(h.name)}: invalid PAX ${field} ${JSON.stringify(s())}`);
      return n;
    };
    switch (k) {
      case 'path':
        h.name = s();
        break;
      case 'linkpath':
        h.linkname = s();
        break;
      case 'size':
        h.size = num('size');
        if (!Number.isSafeInteger(h.size)) throw invalid('tar_range', 'tar: PAX size out of range');
        break;
      case 'uid':
        h.uid = num('uid');
        break;
      case 'gid':
        h.gid = num('gid');
        break;
      case 'uname':
        h.uname = s();
        break;
      case 'gname':
        h.gname = s();
        break;
      case 'mtime':
        h.mtime = num('mtime');
        break;
      default:
        if (k.startsWith('SCHILY.xattr.')) h.xattrs.set(k.slice(13), v);
        else if (k.startsWith('GNU.sparse.'))
          throw invalid('tar_type', `tar entry ${JSON.stringify(h.name)}: sparse files are not supported`);
    }
  }
  return h;
}

// ---- writing ----

function putStr(b: Buffer, off: number, len: number, s: string): boolean {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > len) return false;
  bytes.copy(b, off);
  return true;
}

function putOctal(b: Buffer, off: number, len: number, n: number): boolean {
  const s = Math.floor(n).toString(8);
  if (n < 0 || s.length > len - 1) return false;
  b.write(s.padStart(len - 1, '0'), off, 'latin1');
  b[off + len - 1] = 0;
  return true;
}

/** Split a long name into ustar prefix/name at a slash, if possible. */
function splitUstar(name: string): [string, string] | null {
  const n = Buffer.byteLength(name);
  if (n <= 100) return ['', name];
  if (n > 256) return null;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i),
      rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return [prefix, rest];
  }
  return null;
}

function paxRecord(key: string, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), v, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function encodeBlock(h: TarHeader, flag: string, name: string, prefix: string, linkname: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  putStr(b, 0, 100, name);
  putOctal(b, 100, 8, h.mode & 0o7777);
  putOctal(b, 108, 8, h.uid);
  putOctal(b, 116, 8, h.gid);
  putOctal(b, 124, 12, h.size);
  putOctal(b, 136, 12, Math.floor(h.mtime));
  b[156] = flag.charCodeAt(0);
  putStr(b, 157, 100, linkname);
  b.write('ustar\x0000', 257, 'latin1');
  putStr(b, 265, 32, h.uname);
  putStr(b, 297, 32, h.gname);
  if (h.type === 'char' || h.type === 'block') {
    putOctal(b, 329, 8, h.devmajor);
    putOctal(b, 337, 8, h.devminor);
  }
  putStr(b, 345, 155, prefix);
  const sum = checksumOf(b, 0);
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

/**
 * Encode a header as USTAR, adding a PAX record block first when a value does
 * not fit (long names, xattrs, large ids or sizes), as Go's FormatPAX does.
 * mtime is truncated to whole seconds.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const pax: Buffer[] = [];
  const split = splitUstar(h.name);
  let name = h.name,
    prefix = '';
  if (split) [prefix, name] = split;
  else {
    pax.push(paxRecord('path', h.name));
    name = Buffer.from(h.name)
      .subarray(0, 100)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '_');
  }
  let linkname = h.linkname;
  if (Buffer.byteLength(linkname) > 100) {
    pax.push(paxRecord('linkpath', linkname));
    linkname = '';
  }
  const big = (n: number, len: number) => n.toString(8).length > len - 1;
  const hh = { ...h };
  if (big(h.size, 12)) {
    pax.push(paxRecord('size', String(h.size)));
    hh.size = 0;
  }
  if (big(h.uid, 8)) {
    pax.push(paxRecord('uid', String(h.uid)));
    hh.uid = 0;
  }
  if (big(h.gid, 8)) {
    pax.push(paxRecord('gid', String(h.gid)));
    hh.gid = 0;
  }
  if (Buffer.byteLength(h.uname) > 32) {
    pax.push(paxRecord('uname', h.uname));
    hh.uname = '';
  }
  if (Buffer.byteLength(h.gname) > 32) {
    pax.push(paxRecord('gname', h.gname));
    hh.gname = '';
  }
  for (const k of [...h.xattrs.keys()].sort()) pax.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs.get(k)!));
  const main = encodeBlock(hh, FLAG_BY_TYPE[h.type], name, prefix, linkname);
  if (pax.length === 0) return main;
  const data = Buffer.concat(pax);
  const paxHdr: TarHeader = {
    ...hh,
    name: paxName(h.name),
    linkname: '',
    type: 'file',
    size: data.length,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mode: 0o644,
    xattrs: new Map(),
  };
  const ph = encodeBlock(paxHdr, 'x', paxHdr.name.slice(0, 100), '', '');
  return Buffer.concat([ph, data, Buffer.alloc(padding(data.length)), main]);
}

function paxName(name: string): string {
  const clean = name.replace(/\/+$/, '');
  const i = clean.lastIndexOf('/');
  const dir = i >= 0 ? clean.slice(0, i) : '.';
  const base = i >= 0 ? clean.slice(i + 1) : clean;
  return Buffer.from(`${dir}/PaxHeaders.0/${base}`)
    .subarray(0, 100)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '_');
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
