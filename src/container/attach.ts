import { invalid } from '../core/errors.js';

/** `--detach-keys` ("ctrl-p,ctrl-q", "a", "ctrl-@") as the bytes a terminal sends. */
export function parseDetachKeys(spec: string): number[] {
  return spec.split(',').map((k) => {
    const t = k.trim();
    if (t.length === 1) return t.charCodeAt(0);
    const m = /^ctrl-([a-z@[\\\]^_])$/i.exec(t);
    if (!m)
      throw invalid(
        'invalid_detach_keys',
        `invalid detach keys ${JSON.stringify(spec)}: ${JSON.stringify(t)} is not a key (a letter, or ctrl-<key>)`,
      );
    const ch = m[1]!.toLowerCase();
    return ch >= 'a' && ch <= 'z'
      ? ch.charCodeAt(0) - 96
      : ({ '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 } as Record<string, number>)[ch]!;
  });
}

/** Splits Docker's stdcopy frames ([stream, 0, 0, 0, size BE32] + data) as they arrive. */
export class Demux {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly out: (stream: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const n = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + n) break;
      this.out(this.buf[0]!, this.buf.subarray(8, 8 + n));
      this.buf = this.buf.subarray(8 + n);
    }
  }
}

/** Scans input for the detach sequence; bytes of a partial match are held back until it fails. */
export class DetachScanner {
  private held: number[] = [];
  constructor(private readonly keys: number[]) {}
  /** The bytes to forward, and whether the sequence was completed. */
  push(chunk: Buffer): { forward: Buffer; detach: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.keys.length && b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (this.keys.length && b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
