import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { invalid, wrap } from '../../core/errors.js';
import { decompressed, detectCompression } from '../../archive/compression.js';
import { parseBlock, type TarHeader } from '../../archive/tar-header.js';
import { TarParser, type TarVisitor } from '../../archive/tar-parser.js';
import { Extractor, openBeneath } from '../../container/cp-tree.js';
import { goClean } from './gopath.js';
import { tarsumHasher } from './tarsum.js';

/**
 * Extract a tar build context (plain, gzip, zstd, bzip2 or xz) into dir, confined to it
 * (cp's Extractor: "../" names refused, "/x" is "x", never through a symlink, hardlink
 * targets inside dir), keeping owners as dockerd does, and compute each entry's tarsum
 * v1 from the header as it is in the archive (dockerd's FromArchive). Returns the sums
 * keyed by cleaned name ("." for the root); the first entry of a name wins (GetFile).
 */
export async function extractContext(src: AsyncIterable<Buffer>, dir: string): Promise<Map<string, string>> {
  const rootFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  const ex = new Extractor({
    show: (rel) => (rel ? `build context:${rel}` : 'the build context'),
    openDir: (rel, create) => openBeneath(rootFd, rel, create),
    owner: (h) => ({ uid: h.uid, gid: h.gid }),
  });
  const sums = new Map<string, string>();
  const visitor = new SumVisitor(ex, sums);
  const parser = new TarParser(visitor);
  try {
    for await (const chunk of await decompress(src)) parser.write(chunk);
    parser.end();
    ex.finish();
  } catch (err) {
    ex.abort();
    throw wrap('extract build context', err);
  } finally {
    fs.closeSync(rootFd);
  }
  return sums;
}

/** Feeds the extractor and hashes each entry as Go's tar reader sees it (raw mode, declared size). */
class SumVisitor implements TarVisitor {
  private lastBlock: Buffer | undefined;
  private cur: { key: string; hasher: ReturnType<typeof tarsumHasher> } | undefined;

  constructor(
    private readonly ex: Extractor,
    private readonly sums: Map<string, string>,
  ) {}

  raw(bytes: Buffer): void {
    if (bytes.length === 512) this.lastBlock = bytes;
  }

  entry(h: TarHeader): void {
    const raw = this.lastBlock ? parseBlock(this.lastBlock, 0) : undefined;
    let flag = raw?.flag ?? '0';
    if (flag === '\0') flag = h.name.endsWith('/') ? '5' : '0';
    const hasher = tarsumHasher({
      name: h.name,
      mode: raw?.mode ?? h.mode,
      uid: h.uid,
      gid: h.gid,
      size: h.type === 'file' ? h.size : (raw?.size ?? 0),
      typeflag: flag,
      linkname: h.linkname,
      devmajor: h.devmajor,
      devminor: h.devminor,
      xattrs: h.xattrs,
    });
    const key = goClean(`/${h.name}`).slice(1) || '.';
    this.cur = { key, hasher };
    this.ex.entry(h);
  }

  body(chunk: Buffer): void {
    this.cur?.hasher.update(chunk);
    this.ex.body(chunk);
  }

  entryEnd(): void {
    if (this.cur && !this.sums.has(this.cur.key)) this.sums.set(this.cur.key, this.cur.hasher.digest('hex'));
    this.cur = undefined;
    this.ex.entryEnd();
  }
}

/** The tar bytes of a possibly compressed stream; bzip2 and xz through the system's programs. */
async function decompress(src: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const it = src[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let len = 0;
  while (len < 6) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    len += r.value.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  const kind = detectCompression(Buffer.concat(head));
  if (kind !== 'bzip2' && kind !== 'xz') return decompressed(all(), { what: 'build context' });
  const child = spawn(kind, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(wrap(`run ${kind} to decompress the build context`, err)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(invalid('context_compression', `build context: ${kind} -dc exited ${code}: ${stderr.trim()}`)),
    );
  });
  exited.catch(() => {
    /* reported below */
  });
  Readable.from(all())
    .pipe(child.stdin)
    .on('error', () => {
      /* the exit status says why */
    });
  return (async function* () {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    await exited;
  })();
}
