import * as native from '../native/index.js';
import type { TarHeader } from './tar-header.js';
import type { TarVisitor } from './tar-parser.js';
import { TarSplitRecorder } from './tarsplit.js';

/**
 * A tar visitor that records tar-split while the tar goes by: the raw header and
 * padding bytes, and each entry with the CRC-64 of its body (as tar-split keeps
 * it, so a layer's exact tar can be rebuilt from its files). Measuring a layer
 * uses it as it is; extraction (LayerWriter) extends it and writes the files.
 */
export class SplitVisitor implements TarVisitor {
  readonly split = new TarSplitRecorder();
  private readonly crc = Buffer.alloc(8);
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
