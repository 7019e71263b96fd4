import { type Gzip, createGzip, gunzipSync } from 'node:zlib';
import { corrupt } from '../core/errors.js';

/**
 * tar-split metadata (github.com/vbatts/tar-split, as Docker stores it in
 * layerdb/sha256/<chainID>/tar-split.json.gz): newline-delimited JSON that,
 * with the layer's files, reproduces the exact original tar bytes.
 *   type 2 (segment): raw non-file bytes, base64 payload
 *   type 1 (file): name, size and CRC-64 (ISO, Go convention) of a file body read from diff/
 */
export type TarSplitEntry =
  | { type: 2; payload: Buffer; position: number }
  | { type: 1; name: string; size: number; crc: Buffer | null; position: number };

export const SEGMENT = 2;
const TRAILER_SEGMENT = 1 << 20;
export const FILE = 1;

/** Collects entries while a tar is read; call raw() for non-body bytes and file() for each header. */
export class TarSplitRecorder {
  /** Raw bytes of the segment being collected (copied in: the caller's buffers are reused). */
  private pending = Buffer.allocUnsafe(4096);
  private pendingLen = 0;
  private pos = 0;
  private afterEnd = false;
  /** Finished lines not yet compressed, and the last file entry (its CRC comes after its body). */
  private batch: string[] = [];
  private batchLen = 0;
  private lastFile: string | undefined;
  /** Compresses in libuv's thread pool while the tar is still being read. */
  private readonly gz: Gzip = createGzip({ level: 1 });
  private readonly out: Buffer[] = [];
  private gzError: Error | undefined;

  constructor() {
    this.gz.on('data', (c: Buffer) => this.out.push(c));
    this.gz.on('error', (err) => (this.gzError = err));
  }

  raw(b: Buffer): void {
    if (!this.afterEnd) {
      this.append(b);
      return;
    }
    // after the end marker, tar-split stores trailing bytes in segments of at most 1 MiB
    let off = 0;
    while (off < b.length) {
      const n = Math.min(b.length - off, TRAILER_SEGMENT - this.pendingLen);
      this.append(b.subarray(off, off + n));
      off += n;
      if (this.pendingLen === TRAILER_SEGMENT) this.flush();
    }
  }

  private append(b: Buffer): void {
    const need = this.pendingLen + b.length;
    if (need > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.pending.length * 2));
      this.pending.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    b.copy(this.pending, this.pendingLen);
    this.pendingLen = need;
  }

  private line(l: string, isFile = false): void {
    if (this.lastFile !== undefined) {
      this.batch.push(this.lastFile);
      this.batchLen += this.lastFile.length;
      this.lastFile = undefined;
    }
    if (isFile) this.lastFile = l;
    else {
      this.batch.push(l);
      this.batchLen += l.length;
    }
    if (this.batchLen >= 1 << 18) this.compressBatch();
  }

  private compressBatch(): void {
    if (this.batch.length === 0) return;
    this.gz.write(Buffer.from(this.batch.join('')));
    this.batch = [];
    this.batchLen = 0;
  }

  /** The end-of-archive marker was read: it (with the last padding) becomes one segment, as tar-split writes it. */
  endOfArchive(): void {
    this.flush();
    this.afterEnd = true;
  }

  private flush(): void {
    if (this.pendingLen === 0) return;
    const payload = this.pending.toString('base64', 0, this.pendingLen);
    this.pendingLen = 0;
    this.line(`{"type":2,"payload":"${payload}","position":${this.pos++}}\n`);
  }

  /** A header was read: its bytes (already given to raw) become a segment, then the file entry follows. */
  file(name: string, size: number, crc: Buffer | null): void {
    this.flush();
    // `name` is the (UTF-8) name the file was extracted under, so diff/ always has it: header bytes that
    // are not UTF-8 were decoded with U+FFFD, and a latin1 "name_raw" of that would name no file
    const nameField = `"name":${JSON.stringify(name)}`;
    const sizeField = size > 0 ? `,"size":${size}` : '';
    const payload = crc ? `"${crc.toString('base64')}"` : 'null';
    this.line(`{"type":1,${nameField}${sizeField},"payload":${payload},"position":${this.pos++}}\n`, true);
  }

  /** Set the CRC of the most recent file entry (known only after its body was read). */
  setLastCrc(crc: Buffer): void {
    if (this.lastFile === undefined) return;
    this.lastFile = this.lastFile.replace('"payload":null', `"payload":"${crc.toString('base64')}"`);
  }

  /** The gzip'd tar-split. */
  async finish(): Promise<Buffer> {
    this.flush();
    // tar-split ends with an empty segment
    this.line(`{"type":2,"payload":"","position":${this.pos++}}\n`);
    this.compressBatch();
    this.gz.end();
    if (!this.gzError)
      await new Promise<void>((resolve, reject) => {
        this.gz.once('end', resolve);
        this.gz.once('error', reject);
      });
    if (this.gzError) throw this.gzError;
    return Buffer.concat(this.out);
  }

  /** Stop compressing (the extraction failed). */
  dispose(): void {
    this.gz.destroy();
  }
}

/** Parse tar-split.json.gz. Throws Corrupt with the line number on malformed input. */
export function parseTarSplit(gz: Buffer, what = 'tar-split'): TarSplitEntry[] {
  let text: string;
  try {
    text = gunzipSync(gz).toString('utf8');
  } catch (err) {
    throw corrupt('tarsplit_corrupt', `${what}: not gzip (${(err as Error).message})`);
  }
  const out: TarSplitEntry[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (!line) continue;
    let j: {
      type?: number;
      name?: string;
      name_raw?: string;
      size?: number;
      payload?: string | null;
      position?: number;
    };
    try {
      j = JSON.parse(line);
    } catch {
      throw corrupt('tarsplit_corrupt', `${what}: line ${lineNo}: invalid JSON`);
    }
    if (j.type === 2 && typeof j.payload === 'string') {
      out.push({ type: 2, payload: Buffer.from(j.payload, 'base64'), position: j.position ?? out.length });
    } else if (j.type === 1) {
      const name =
        typeof j.name === 'string'
          ? j.name
          : typeof j.name_raw === 'string'
            ? Buffer.from(j.name_raw, 'base64').toString('latin1')
            : null;
      const size = j.size ?? 0;
      if (name === null || !Number.isSafeInteger(size) || size < 0)
        throw corrupt('tarsplit_corrupt', `${what}: line ${lineNo}: bad file entry`);
      out.push({
        type: 1,
        name,
        size,
        crc: j.payload ? Buffer.from(j.payload, 'base64') : null,
        position: j.position ?? out.length,
      });
    } else {
      throw corrupt('tarsplit_corrupt', `${what}: line ${lineNo}: unknown entry type ${JSON.stringify(j.type)}`);
    }
  }
  return out;
}
