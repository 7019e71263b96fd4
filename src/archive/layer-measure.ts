/**
 * What registering a layer needs from its tar without extracting it: the diffID,
 * the tar-split metadata (with each body's CRC-64) and the entry count. Used when
 * a layer's files already sit in the right place (a build step's rw layer becomes
 * the layer's diff dir), so the tar is only read, never written out again.
 */
import { createHash } from 'node:crypto';
import type { DiffID } from '../core/digest.js';
import { SplitVisitor } from './split-visitor.js';
import { TarParser } from './tar-parser.js';

export interface Measured {
  diffID: DiffID;
  tarSplit: Buffer;
  entries: number;
}

export async function measureLayer(src: AsyncIterable<Buffer>): Promise<Measured> {
  const m = new SplitVisitor();
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
