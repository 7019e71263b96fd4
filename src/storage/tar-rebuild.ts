import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { corrupt, wrap } from '../core/errors.js';
import { cleanEntryName } from '../archive/names.js';
import { parseTarSplit } from '../archive/tarsplit.js';
import * as native from '../native/index.js';
import type { BlockPool } from '../archive/block-pool.js';

/** The chunk size of a rebuilt tar unless the caller asks for another: fewer, larger writes. */
export const TAR_CHUNK = 1 << 18;

/**
 * A layer's exact original tar, rebuilt from its tar-split (`gz`) and its diff/ directory
 * (`root`), as chunks of exactly `chunk` bytes (the last one shorter), or of the pool's block
 * size, taken from the pool. File bodies are read straight into the chunk being filled (no
 * copy; a push compresses each chunk as it is): a chunk is never written again once given out
 * (one of a pool may be filled again once its user gave it back). Every file body is checked against its CRC, and the whole stream against
 * `diffID` (the generator throws at the end if it does not match). Paths are resolved
 * without following symlinks, so a crafted tar-split cannot read outside diff/.
 */
export async function* rebuildTar(
  gz: Buffer,
  root: string,
  diffID: string,
  chunk: number | BlockPool = TAR_CHUNK,
): AsyncGenerator<Buffer> {
  const size = typeof chunk === 'number' ? chunk : chunk.size;
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`tar chunk size ${size}`);
  const what = `layer ${diffID}`;
  const hash = createHash('sha256');
  const dirs = new Set<string>(['']);
  const out = new Chunks(size, typeof chunk === 'number' ? undefined : chunk);
  for (const e of parseTarSplit(gz, `${what} tar-split`)) {
    if (e.type === 2) {
      hash.update(e.payload);
      yield* out.copy(e.payload);
      continue;
    }
    if (e.size === 0) continue;
    const rel = cleanEntryName(e.name);
    checkDirs(root, rel, dirs, what);
    const path = `${root}/${rel}`;
    const fd = openRegular(path, what);
    const crc = Buffer.alloc(8);
    try {
      let left = e.size;
      while (left > 0) {
        const room = out.room();
        const n = fs.readSync(fd, room, 0, Math.min(left, room.length), null);
        if (n === 0) throw corrupt('layer_corrupt', `${what}: ${JSON.stringify(path)} is shorter than recorded`);
        const got = room.subarray(0, n);
        native.crc64(crc, got);
        hash.update(got);
        left -= n;
        const full = out.advance(n);
        if (full) yield full;
      }
    } finally {
      fs.closeSync(fd);
    }
    if (e.crc && !crc.equals(e.crc))
      throw corrupt(
        'layer_corrupt',
        `${what}: file ${JSON.stringify(e.name)} changed since the layer was stored (CRC mismatch)`,
      );
  }
  const rest = out.flush();
  if (rest) yield rest;
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffID) throw corrupt('layer_corrupt', `${what}: rebuilt tar has digest ${got}, not the diffID`);
}

/** Fixed-size chunks filled in place: room() to write into, advance() when written; a full chunk is given out once. */
class Chunks {
  private buf: Buffer | undefined;
  private pos = 0;
  constructor(
    private readonly size: number,
    private readonly pool?: BlockPool,
  ) {}

  /** The free part of the current chunk (never empty). */
  room(): Buffer {
    this.buf ??= this.pool ? this.pool.take() : Buffer.allocUnsafeSlow(this.size);
    return this.buf.subarray(this.pos);
  }

  /** `n` bytes of room() were written: the chunk if that filled it. */
  advance(n: number): Buffer | undefined {
    this.pos += n;
    if (this.pos < this.size) return undefined;
    const full = this.buf!;
    this.buf = undefined;
    this.pos = 0;
    return full;
  }

  /** Copy bytes in: the chunks they filled. */
  *copy(b: Buffer): Generator<Buffer> {
    let off = 0;
    while (off < b.length) {
      const room = this.room();
      const n = b.copy(room, 0, off);
      off += n;
      const full = this.advance(n);
      if (full) yield full;
    }
  }

  /** The partly filled last chunk, if any. */
  flush(): Buffer | undefined {
    if (!this.buf || this.pos === 0) return undefined;
    const b = this.buf.subarray(0, this.pos);
    this.buf = undefined;
    this.pos = 0;
    return b;
  }
}

function checkDirs(root: string, rel: string, dirs: Set<string>, what: string): void {
  const parts = rel.split('/');
  let cur = '';
  for (let i = 0; i < parts.length - 1; i++) {
    cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
    if (dirs.has(cur)) continue;
    const st = fs.lstatSync(`${root}/${cur}`, { throwIfNoEntry: false });
    if (!st?.isDirectory()) throw corrupt('layer_corrupt', `${what}: "${cur}" is not a directory in the layer`);
    dirs.add(cur);
  }
}

/** An fd of a regular file, never following a symlink. */
function openRegular(path: string, what: string): number {
  // never open() anything but a regular file: a device node in diff/ would reach the host's device
  const pre = fs.lstatSync(path, { throwIfNoEntry: false });
  if (pre && !pre.isFile()) throw corrupt('layer_corrupt', `${what}: ${JSON.stringify(path)} is not a regular file`);
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw wrap(`${what}: open ${JSON.stringify(path)}`, err);
  }
  try {
    if (!fs.fstatSync(fd).isFile())
      throw corrupt('layer_corrupt', `${what}: ${JSON.stringify(path)} is not a regular file`);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}
