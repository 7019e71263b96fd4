/**
 * What registering a layer needs from its tar without extracting it: the diffID,
 * the tar-split metadata (with each body's CRC-64) and the entry count. Used when
 * a layer's files already sit in the right place (a build step's rw layer becomes
 * the layer's diff dir), so the tar is only read, never written out again.
 */
import { createHash } from 'node:crypto';
import type { DiffID } from '../core/digest.js';
import * as native from '../native/index.js';
import { TarParser, type TarVisitor } from './tar-parser.js';
import type { TarHeader } from './tar-header.js';
import { TarSplitRecorder } from './tarsplit.js';

export interface Measured {
  diffID: DiffID;
  tarSplit: Buffer;
  entries: number;
}

class Measure implements TarVisitor {
  readonly split = new TarSplitRecorder();
  private crc = Buffer.alloc(8);
  private hasBody = false;
  raw(b: Buffer): void {
    this.split.raw(b);
  }
  endOfArchive(): void {
    this.split.endOfArchive();
  }
  entry(h: TarHeader): void {
    this.split.file(h.name, h.size, null);
    this.hasBody = h.size > 0;
    this.crc.fill(0);
  }
  body(chunk: Buffer): void {
    native.crc64(this.crc, chunk);
  }
  entryEnd(): void {
    if (this.hasBody) this.split.setLastCrc(Buffer.from(this.crc));
  }
}

export async function measureLayer(src: AsyncIterable<Buffer>): Promise<Measured> {
  const m = new Measure();
  const parser = new TarParser(m);
  const hash = createHash('sha256');
  try {
    for await (const chunk of src) {
      hash.update(chunk);
      parser.write(chunk);
    }
    parser.end();
  } catch (err) {
    m.split.dispose();
    throw err;
  }
  const tarSplit = await m.split.finish();
  return { diffID: `sha256:${hash.digest('hex')}` as DiffID, tarSplit, entries: parser.entries };
}
