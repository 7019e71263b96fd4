import { createHash, type Hash } from 'node:crypto';
import type * as fs from 'node:fs';

/**
 * Per-file tarsum v1, the content hash behind `COPY file:<hex>` in Docker 20.10's
 * classic builder (pkg/tarsum: the daemon hashes each entry of the context tar as it
 * reads it). The hash is sha256 over the selected header fields written as
 * `<key><value>` in this order: name mode uid gid size typeflag linkname uname gname
 * devmajor devminor, then the xattrs sorted by key; mtime is left out and uname/gname
 * are always empty; then the file's bytes.
 */
export interface SumHeader {
  /** The tar entry name exactly as in the archive ("d/" for a directory from the client). */
  name: string;
  /** The header's mode field as a number, type bits included when the tar has them. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: ReadonlyMap<string, Buffer>;
  /**
   * Owner names: empty in what the docker CLI sends; what the daemon host calls the ids when dockerd reads files itself
   * (COPY --from).
   */
  uname?: string;
  gname?: string;
}

/** A sha256 fed with the header part; update() it with the body and digest('hex'). */
export function tarsumHasher(h: SumHeader): Hash {
  const hash = createHash('sha256');
  const fields: Array<[string, string]> = [
    ['name', h.name],
    ['mode', String(h.mode)],
    ['uid', String(h.uid)],
    ['gid', String(h.gid)],
    ['size', String(h.size)],
    ['typeflag', h.typeflag],
    ['linkname', h.linkname],
    ['uname', h.uname ?? ''],
    ['gname', h.gname ?? ''],
    ['devmajor', String(h.devmajor)],
    ['devminor', String(h.devminor)],
  ];
  for (const [k, v] of fields) hash.update(k + v);
  const keys = [...h.xattrs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const k of keys) {
    hash.update(k);
    hash.update(h.xattrs.get(k)!);
  }
  return hash;
}

const S_IFMT = 0o170000;
/** Go 1.8's archive/tar type bits, which Docker's pkg/archive puts back into the mode field. */
const TYPE_BITS: Record<number, number> = {
  0o100000: 0o100000,
  0o040000: 0o040000,
  0o120000: 0o120000,
  0o020000: 0o020000,
  0o060000: 0o060000,
  0o010000: 0o010000,
};
const TYPEFLAG: Record<number, string> = {
  0o100000: '0',
  0o040000: '5',
  0o120000: '2',
  0o020000: '3',
  0o060000: '4',
  0o010000: '6',
};

export interface ClientHeaderOptions {
  /**
   * Put the file type bits in the mode (0100644 for a file), as the docker CLI 20.10
   * does (pkg/archive fillGo18FileTypeBits). Newer CLIs (28.x) send 0644, and dockerd's
   * hashes differ accordingly. Default true.
   */
  modeTypeBits?: boolean;
}

/**
 * The header the docker CLI 20.10 writes for a context file (archive.TarWithOptions with
 * ChownOpts 0:0): its relative name ("/" after a dir), permission and set-id bits, owner
 * 0:0, size of a regular file, the symlink target or, for a further hardlink of an inode
 * already sent, typeflag "1" with the first name and size 0, device numbers, and
 * security.capability (a v3 capability as v2).
 */
export function clientHeader(
  rel: string,
  st: fs.Stats,
  linkname: string,
  hardlinkOf: string | undefined,
  cap: Buffer | null,
  opts: ClientHeaderOptions = {},
): SumHeader {
  const fmt = st.mode & S_IFMT;
  let mode = st.mode & 0o7777;
  if (opts.modeTypeBits !== false) mode |= TYPE_BITS[fmt] ?? 0;
  const dev = fmt === 0o020000 || fmt === 0o060000;
  const xattrs = new Map<string, Buffer>();
  if (cap)
    xattrs.set(
      'security.capability',
      cap[3] === 3 ? Buffer.concat([cap.subarray(0, 3), Buffer.from([2]), cap.subarray(4, 20)]) : cap,
    );
  const h: SumHeader = {
    name: fmt === 0o040000 ? `${rel}/` : rel,
    mode,
    uid: 0,
    gid: 0,
    size: fmt === 0o100000 ? st.size : 0,
    typeflag: TYPEFLAG[fmt] ?? '0',
    linkname,
    devmajor: dev ? major(st.rdev) : 0,
    devminor: dev ? minor(st.rdev) : 0,
    xattrs,
  };
  if (hardlinkOf !== undefined) {
    h.typeflag = '1';
    h.linkname = hardlinkOf;
    h.size = 0;
  }
  return h;
}

function major(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}
