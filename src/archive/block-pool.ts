/**
 * Block buffers of one size, reused: a push rebuilds each layer's tar into blocks and compresses
 * them in the thread pool; a block given back once compressed is filled again by the next read,
 * instead of a fresh allocation whose pages the kernel must fault in and zero (a sizeable part of a
 * push's main-thread time) and whose memory waits for V8's garbage collector.
 */
export class BlockPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep = 32,
  ) {}

  /** A block of `size` bytes, contents undefined. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** A block no one uses any more (only a whole block of this pool's size is kept). */
  give(b: Buffer): void {
    if (
      b.length === this.size &&
      b.byteOffset === 0 &&
      b.buffer.byteLength === this.size &&
      this.free.length < this.keep
    )
      this.free.push(b);
  }
}
