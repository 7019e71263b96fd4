import { invalid } from '../core/errors.js';
import {
  BLOCK,
  finalHeader,
  isMetaFlag,
  isZeroBlock,
  padding,
  parseBlock,
  parsePax,
  type RawHeader,
  type TarHeader,
} from './tar-header.js';

/** Receives a tar stream's pieces in order; every input byte goes to exactly one of raw() or body(). */
export interface TarVisitor {
  /** Bytes that are not a file body: headers, PAX/GNU records, padding, the trailer and anything after it. */
  raw(bytes: Buffer): void;
  /** A new entry begins; its body (h.size bytes) follows through body(). */
  entry(h: TarHeader): void;
  body(chunk: Buffer): void;
  /** The body of the current entry is complete. */
  entryEnd(): void;
  /** The end-of-archive marker (two zero blocks) was read; what follows is trailing raw bytes. */
  endOfArchive?(): void;
}

export interface TarParserOptions {
  /** Largest PAX or GNU long-name record accepted (Go's archive/tar allows 1 MiB). */
  maxMetaSize?: number;
}

type State = 'header' | 'meta' | 'body' | 'pad' | 'zero2' | 'trailer';

/**
 * A push parser for tar streams (ustar, PAX, GNU long names, old v7).
 * Synchronous: write() invokes the visitor before returning, so callers may do
 * synchronous I/O in the callbacks and keep memory bounded. end() throws if the
 * stream stopped inside an entry. EOF on a header boundary without the two zero
 * blocks is accepted, as Go's reader does.
 */
export class TarParser {
  private state: State = 'header';
  private hdr = Buffer.alloc(BLOCK);
  private hdrFill = 0;
  private remaining = 0;
  private metaFlag = '';
  private metaBuf: Buffer[] = [];
  private pax: Map<string, Buffer> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private current = '';
  private readonly maxMeta: number;
  entries = 0;

  constructor(
    private readonly v: TarVisitor,
    opts: TarParserOptions = {},
  ) {
    this.maxMeta = opts.maxMetaSize ?? 1 << 20;
  }

  write(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      switch (this.state) {
        case 'header':
        case 'zero2': {
          const n = Math.min(BLOCK - this.hdrFill, chunk.length - off);
          chunk.copy(this.hdr, this.hdrFill, off, off + n);
          this.hdrFill += n;
          off += n;
          if (this.hdrFill === BLOCK) {
            this.hdrFill = 0;
            this.onBlock();
          }
          break;
        }
        case 'meta': {
          const n = Math.min(this.remaining, chunk.length - off);
          const piece = chunk.subarray(off, off + n);
          this.metaBuf.push(Buffer.from(piece));
          this.v.raw(piece);
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.onMetaDone();
          break;
        }
        case 'body': {
          const n = Math.min(this.remaining, chunk.length - off);
          if (n > 0) this.v.body(chunk.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.onBodyDone();
          break;
        }
        case 'pad': {
          const n = Math.min(this.remaining, chunk.length - off);
          this.v.raw(chunk.subarray(off, off + n));
          off += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'header';
          break;
        }
        case 'trailer':
          this.v.raw(chunk.subarray(off));
          off = chunk.length;
          break;
      }
    }
  }

  /** The input ended. Throws when it ended inside a header, record or body. */
  end(): void {
    const where = this.current ? ` in entry ${JSON.stringify(this.current)}` : '';
    if (this.state === 'body' || this.state === 'meta' || (this.state === 'pad' && this.remaining > 0)) {
      throw invalid('tar_truncated', `tar: unexpected end of input${where} (${this.remaining} bytes missing)`);
    }
    if (this.hdrFill > 0) throw invalid('tar_truncated', `tar: unexpected end of input inside a header${where}`);
    if (this.pax || this.longName !== undefined || this.longLink !== undefined) {
      throw invalid('tar_truncated', 'tar: unexpected end of input after an extended header');
    }
  }

  private onBlock(): void {
    const block = this.hdr;
    if (this.state === 'zero2') {
      this.v.raw(Buffer.from(block));
      if (!isZeroBlock(block, 0)) throw invalid('tar_header', 'tar: invalid header after a zero block');
      this.state = 'trailer';
      this.v.endOfArchive?.();
      return;
    }
    if (isZeroBlock(block, 0)) {
      this.v.raw(Buffer.from(block));
      this.state = 'zero2';
      return;
    }
    let raw: RawHeader;
    try {
      raw = parseBlock(block, 0);
    } catch (err) {
      const after = this.current ? ` after entry ${JSON.stringify(this.current)}` : ' at the start';
      throw invalid((err as { code?: string }).code ?? 'tar_header', `${(err as Error).message}${after}`);
    }
    this.v.raw(Buffer.from(block));
    if (isMetaFlag(raw.flag)) {
      if (raw.size > this.maxMeta)
        throw invalid(
          'tar_meta_size',
          `tar: extended header of ${raw.size} bytes exceeds the ${this.maxMeta}-byte limit`,
        );
      this.metaFlag = raw.flag;
      this.metaBuf = [];
      this.remaining = raw.size;
      this.state = 'meta';
      if (raw.size === 0) this.onMetaDone();
      return;
    }
    const h = finalHeader(raw, this.pax, this.longName, this.longLink);
    this.pax = undefined;
    this.longName = this.longLink = undefined;
    if (h.type !== 'file') h.size = 0;
    this.current = h.name;
    this.entries++;
    this.v.entry(h);
    // only regular files have a data section: as in Go's archive/tar (so Docker), a size declared by a
    // link, symlink, device, fifo or dir header is ignored and the next header follows at once
    const declared = h.size;
    this.bodySize = h.type === 'file' ? h.size : 0;
    this.skipSize = declared - this.bodySize;
    this.remaining = this.bodySize;
    if (this.remaining > 0) this.state = 'body';
    else this.finishEntry();
  }

  private bodySize = 0;
  private skipSize = 0;

  private onMetaDone(): void {
    const data = Buffer.concat(this.metaBuf);
    this.metaBuf = [];
    if (this.metaFlag === 'x') {
      const recs = parsePax(data);
      this.pax = new Map([...(this.pax ?? []), ...recs]);
    } else if (this.metaFlag === 'L') {
      this.longName = cstring(data);
    } else if (this.metaFlag === 'K') {
      this.longLink = cstring(data);
    } // 'g' (global PAX) records are ignored
    this.remaining = padding(data.length);
    this.state = this.remaining > 0 ? 'pad' : 'header';
  }

  private onBodyDone(): void {
    this.finishEntry();
  }

  private finishEntry(): void {
    this.v.entryEnd();
    const declared = this.bodySize + this.skipSize;
    this.remaining = this.skipSize + padding(declared);
    this.state = this.remaining > 0 ? 'pad' : 'header';
  }
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}
