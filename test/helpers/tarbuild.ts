/**
 * Build tar archives in code for tests: well-formed entries through the
 * production encoder (encodeHeader), plus hand-crafted raw header blocks for
 * malformed input (bad checksums, base-256 numbers, odd magic, NUL bytes...).
 */
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import {
  BLOCK,
  checksumOf,
  encodeHeader,
  padding,
  type TarHeader,
  type TarType,
} from '../../src/archive/tar-header.js';

export { BLOCK, padding };

/** A well-formed entry. `type` defaults to 'dir' for names ending in '/', else 'file'. */
export interface Entry {
  name: string;
  type?: TarType;
  body?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer | string>;
}

/** A piece of an archive: an entry, or raw bytes inserted verbatim. */
export type Piece = Entry | Buffer;

export const MTIME = 1700000000;

export function header(e: Entry): TarHeader {
  const type = e.type ?? (e.name.endsWith('/') ? 'dir' : 'file');
  const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
  return {
    name: e.name,
    linkname: e.linkname ?? '',
    type,
    mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    size: type === 'file' ? body.length : 0,
    mtime: e.mtime ?? MTIME,
    uname: e.uname ?? '',
    gname: e.gname ?? '',
    devmajor: e.devmajor ?? 0,
    devminor: e.devminor ?? 0,
    xattrs: new Map(Object.entries(e.xattrs ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
  };
}

/** Header (with PAX records when needed), body and padding of one entry. */
export function entryBytes(e: Entry): Buffer {
  const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
  return Buffer.concat([encodeHeader(header(e)), body, Buffer.alloc(padding(body.length))]);
}

/** The end-of-archive marker: two zero blocks. */
export const EOA = Buffer.alloc(2 * BLOCK);

/** An archive of pieces; ends with two zero blocks unless `trailer: false`; `after` is appended after them. */
export function buildTar(pieces: Piece[], opts: { trailer?: boolean; after?: Buffer } = {}): Buffer {
  const parts = pieces.map((p) => (Buffer.isBuffer(p) ? p : entryBytes(p)));
  if (opts.trailer !== false) parts.push(EOA);
  if (opts.after) parts.push(opts.after);
  return Buffer.concat(parts);
}

/** Zero padding to the next block boundary after `data`. */
export function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc(padding(data.length))]);
}

// ---- raw header blocks ------------------------------------------------------------------------

/** A numeric field: a number (octal, NUL-terminated), a bigint (GNU base-256) or exact bytes. */
export type Num = number | bigint | Buffer;

export interface RawFields {
  name?: string | Buffer;
  mode?: Num;
  uid?: Num;
  gid?: Num;
  size?: Num;
  mtime?: Num;
  /** Type flag character ('0', '5', 'x', 'L', 'S', '\0', ...). */
  flag?: string;
  linkname?: string | Buffer;
  /** 'ustar' (POSIX "ustar\0" "00"), 'gnu' ("ustar  \0") or 'v7' (no magic). */
  magic?: 'ustar' | 'gnu' | 'v7';
  uname?: string;
  gname?: string;
  devmajor?: Num;
  devminor?: Num;
  prefix?: string | Buffer;
  /** Bytes written at offsets after the fields and before the checksum (e.g. NUL inside a name). */
  patch?: Array<[number, Buffer]>;
  /** 'ok' (default), 'bad' (off by one), 'signed' (sum of signed bytes, as old Sun tar wrote), or exact bytes. */
  checksum?: 'ok' | 'bad' | 'signed' | Buffer;
}

/** GNU base-256: two's complement big-endian with the top bit of the first byte set. */
export function base256(n: bigint, len: number): Buffer {
  const b = Buffer.alloc(len);
  let v = n < 0n ? (1n << BigInt(8 * len)) + n : n;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (n >= 0n && b[0]! & 0x80) throw new Error('base256: value too large for the field');
  b[0] = b[0]! | 0x80;
  return b;
}

function putNum(b: Buffer, off: number, len: number, v: Num | undefined): void {
  if (v === undefined) return;
  if (Buffer.isBuffer(v)) {
    v.copy(b, off, 0, Math.min(len, v.length));
    return;
  }
  if (typeof v === 'bigint') {
    base256(v, len).copy(b, off);
    return;
  }
  const s = v.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new Error(`octal ${v} does not fit ${len} bytes`);
  b.write(s, off, 'latin1');
}

function putBytes(b: Buffer, off: number, len: number, v: string | Buffer | undefined): void {
  if (v === undefined) return;
  const bytes = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
  if (bytes.length > len) throw new Error(`field of ${bytes.length} bytes does not fit ${len}`);
  bytes.copy(b, off);
}

/** One 512-byte header block with exactly the given fields. */
export function rawBlock(f: RawFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  putBytes(b, 0, 100, f.name ?? 'file');
  putNum(b, 100, 8, f.mode ?? 0o644);
  putNum(b, 108, 8, f.uid ?? 0);
  putNum(b, 116, 8, f.gid ?? 0);
  putNum(b, 124, 12, f.size ?? 0);
  putNum(b, 136, 12, f.mtime ?? MTIME);
  b.write(f.flag ?? '0', 156, 'latin1');
  putBytes(b, 157, 100, f.linkname);
  const magic = f.magic ?? 'ustar';
  if (magic === 'ustar') b.write('ustar\x0000', 257, 'latin1');
  else if (magic === 'gnu') b.write('ustar  \0', 257, 'latin1');
  if (magic !== 'v7') {
    putBytes(b, 265, 32, f.uname);
    putBytes(b, 297, 32, f.gname);
    putNum(b, 329, 8, f.devmajor ?? 0);
    putNum(b, 337, 8, f.devminor ?? 0);
    putBytes(b, 345, 155, f.prefix);
  }
  for (const [off, bytes] of f.patch ?? []) bytes.copy(b, off);
  const ck = f.checksum ?? 'ok';
  if (Buffer.isBuffer(ck)) {
    ck.copy(b, 148, 0, Math.min(8, ck.length));
  } else {
    let sum = checksumOf(b, 0);
    if (ck === 'signed') {
      sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (b[i]! << 24) >> 24;
    }
    if (ck === 'bad') sum += 1;
    b.write((sum & 0o777777).toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  }
  return b;
}

/** A raw header followed by its body and padding. */
export function rawEntry(f: RawFields, body: Buffer | string = Buffer.alloc(0)): Buffer {
  return Buffer.concat([rawBlock(f), padded(Buffer.from(body))]);
}

/** A GNU long name ('L') or long link ('K') record: header, NUL-terminated data, padding. */
export function gnuLong(value: string | Buffer, flag: 'L' | 'K' = 'L'): Buffer {
  const data = Buffer.concat([Buffer.from(value), Buffer.from([0])]);
  return Buffer.concat([
    rawBlock({ name: '././@LongLink', flag, size: data.length, magic: 'gnu', mode: 0 }),
    padded(data),
  ]);
}

/** One PAX record "len key=value\n" with a correct length. */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** A PAX extended header ('x', or 'g' for global) carrying `data` (records, or arbitrary bytes). */
export function paxHeader(
  data: Buffer | Array<[string, string | Buffer]>,
  flag: 'x' | 'g' = 'x',
  name = 'PaxHeaders.0/entry',
): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.concat(data.map(([k, v]) => paxRecord(k, v)));
  return Buffer.concat([rawBlock({ name, flag, size: d.length }), padded(d)]);
}

// ---- streams and compression ------------------------------------------------------------------

/** The buffer as an async iterable of `size`-byte chunks (whole buffer when size is omitted). */
export async function* chunked(b: Buffer, size = b.length || 1): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, Math.min(b.length, i + size));
}

export async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

/** Compress with the zstd CLI (a real zstd frame, as registries serve). */
export function zstd(b: Buffer): Buffer {
  return execFileSync('/usr/bin/zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 });
}
