import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { BLOCK, encodeHeader, padding, type TarHeader } from './tar-header.js';

/** Header defaults for archive members berth writes (root-owned, fixed times for reproducibility). */
export function fileHeader(name: string, size: number, over: Partial<TarHeader> = {}): TarHeader {
  return {
    name,
    linkname: '',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size,
    mtime: 0,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  };
}

/** Writes a tar stream to a Writable, honouring backpressure. */
export class TarWriter {
  constructor(private readonly out: Writable) {}

  async write(b: Buffer): Promise<void> {
    if (!this.out.write(b)) await once(this.out, 'drain');
  }

  /** An entry with its whole body in memory. */
  async add(h: TarHeader, body?: Buffer): Promise<void> {
    await this.write(encodeHeader(h));
    if (body && body.length) {
      await this.write(body);
      const pad = padding(body.length);
      if (pad) await this.write(Buffer.alloc(pad));
    }
  }

  /** An entry whose body streams from `src`, which must yield exactly h.size bytes. */
  async addStream(h: TarHeader, src: AsyncIterable<Buffer>): Promise<void> {
    await this.write(encodeHeader(h));
    let n = 0;
    for await (const c of src) {
      n += c.length;
      if (n > h.size) throw new Error(`tar entry ${JSON.stringify(h.name)}: body longer than ${h.size} bytes`);
      await this.write(c);
    }
    if (n !== h.size) throw new Error(`tar entry ${JSON.stringify(h.name)}: body is ${n} bytes, header says ${h.size}`);
    const pad = padding(h.size);
    if (pad) await this.write(Buffer.alloc(pad));
  }

  /** The two zero blocks that end an archive. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2));
  }
}
