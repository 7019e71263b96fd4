import { gunzipSync, gzipSync } from 'node:zlib';
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
  private lines: string[] = [];
  private pending: Buffer[] = [];
  private pos = 0;

  private afterEnd = false;
  private pendingLen = 0;

  raw(b: Buffer): void {
    if (!this.afterEnd) {
      this.pending.push(Buffer.from(b));
      return;
    }
    // after the end marker, tar-split stores trailing bytes in segments of at most 1 MiB
    let off = 0;
    while (off < b.length) {
      const n = Math.min(b.length - off, TRAILER_SEGMENT - this.pendingLen);
      this.pending.push(Buffer.from(b.subarray(off, off + n)));
      this.pendingLen += n;
      off += n;
      if (this.pendingLen === TRAILER_SEGMENT) {
        this.flush();
        this.pendingLen = 0;
      }
    }
  }

  /** The end-of-archive marker was read: it (with the last padding) becomes one segment, as tar-split writes it. */
  endOfArchive(): void {
    this.flush();
    this.afterEnd = true;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const payload = Buffer.concat(this.pending).toString('base64');
    this.pending = [];
    this.lines.push(`{"type":2,"payload":"${payload}","position":${this.pos++}}\n`);
  }

  /** A header was read: its bytes (already given to raw) become a segment, then the file entry follows. */
  file(name: string, size: number, crc: Buffer | null): void {
    this.flush();
    // `name` is the (UTF-8) name the file was extracted under, so diff/ always has it: header bytes that
    // are not UTF-8 were decoded with U+FFFD, and a latin1 "name_raw" of that would name no file
    const nameField = `"name":${JSON.stringify(name)}`;
    const sizeField = size > 0 ? `,"size":${size}` : '';
    const payload = crc ? `"${crc.toString('base64')}"` : 'null';
    this.lines.push(`{"type":1,${nameField}${sizeField},"payload":${payload},"position":${this.pos++}}\n`);
  }

  /** Set the CRC of the most recent file entry (known only after its body was read). */
  setLastCrc(crc: Buffer): void {
    const i = this.lines.length - 1;
    this.lines[i] = this.lines[i]!.replace('"payload":null', `"payload":"${crc.toString('base64')}"`);
  }

  finish(): Buffer {
    this.flush();
    // tar-split ends with an empty segment
    this.lines.push(`{"type":2,"payload":"","position":${this.pos++}}\n`);
    return gzipSync(Buffer.from(this.lines.join('')));
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
