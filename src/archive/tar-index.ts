import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import {
  BLOCK,
  finalHeader,
  isMetaFlag,
  isZeroBlock,
  padding,
  parseBlock,
  parsePax,
  type TarHeader,
} from './tar-header.js';
import { cleanEntryName } from './names.js';

export interface IndexedEntry {
  header: TarHeader;
  /** Byte offset of the body in the file. */
  offset: number;
}

/**
 * Index an (uncompressed) tar file by reading only its headers: bodies are
 * skipped with positional reads, so a 1 GB archive is indexed in milliseconds.
 * Names are cleaned (leading "./" and "/" removed); escaping names are rejected.
 */
export function indexTarFile(path: string, what = 'archive'): Map<string, IndexedEntry> {
  const fd = fs.openSync(path, 'r');
  const out = new Map<string, IndexedEntry>();
  try {
    const fileSize = fs.fstatSync(fd).size;
    const block = Buffer.alloc(BLOCK);
    let off = 0;
    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined, longLink: string | undefined;
    const readAt = (buf: Buffer, at: number, len: number) => {
      if (at + len > fileSize)
        throw invalid('tar_truncated', `${what}: unexpected end of file at offset ${fileSize} (truncated archive)`);
      fs.readSync(fd, buf, 0, len, at);
    };
    for (;;) {
      if (off === fileSize) break; // EOF on a header boundary: accepted, as Go's reader does
      readAt(block, off, BLOCK);
      if (isZeroBlock(block, 0)) break;
      const raw = parseBlock(block, 0);
      off += BLOCK;
      if (isMetaFlag(raw.flag)) {
        if (raw.size > 1 << 20) throw invalid('tar_meta_size', `${what}: extended header too large`);
        const data = Buffer.alloc(raw.size);
        readAt(data, off, raw.size);
        off += raw.size + padding(raw.size);
        if (raw.flag === 'x') pax = new Map([...(pax ?? []), ...parsePax(data)]);
        else if (raw.flag === 'L') longName = cstring(data);
        else if (raw.flag === 'K') longLink = cstring(data);
        continue;
      }
      const h = finalHeader(raw, pax, longName, longLink);
      pax = undefined;
      longName = longLink = undefined;
      const bodySize = h.type === 'file' ? h.size : 0; // other types have no data section, as in Go's reader
      if (off + bodySize > fileSize)
        throw invalid('tar_truncated', `${what}: entry ${JSON.stringify(h.name)} is truncated`);
      out.set(cleanEntryName(h.name, `${what} entry`), { header: h, offset: off });
      off += bodySize + padding(bodySize);
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** Follow symlinks and hardlinks inside the archive (docker save links duplicate layers). */
export function resolveEntry(
  index: Map<string, IndexedEntry>,
  name: string,
  what = 'archive',
): IndexedEntry | undefined {
  let cur = cleanEntryName(name, `${what} reference`);
  for (let depth = 0; depth < 16; depth++) {
    const e = index.get(cur);
    if (!e) return undefined;
    if (e.header.type === 'file') return e;
    if (e.header.type === 'link') {
      cur = cleanEntryName(e.header.linkname, `${what} link`);
      continue;
    }
    if (e.header.type === 'symlink') {
      const dir = cur.includes('/') ? cur.slice(0, cur.lastIndexOf('/')) : '';
      const t = e.header.linkname.startsWith('/') ? e.header.linkname : `${dir}/${e.header.linkname}`;
      cur = cleanEntryName(t, `${what} link`);
      continue;
    }
    return undefined;
  }
  throw invalid('archive_link_loop', `${what}: too many links resolving ${JSON.stringify(name)}`);
}

export function readEntry(path: string, e: IndexedEntry, max = 64 << 20): Buffer {
  if (e.header.size > max)
    throw invalid(
      'archive_entry_size',
      `archive entry ${JSON.stringify(e.header.name)} is too large (${e.header.size} bytes)`,
    );
  const fd = fs.openSync(path, 'r');
  try {
    const b = Buffer.alloc(e.header.size);
    fs.readSync(fd, b, 0, b.length, e.offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}
