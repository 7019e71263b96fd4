/**
 * ADD's sources that are not plain context files: local archives (detected as
 * Docker's isArchivePath does: the first tar header of the decompressed bytes)
 * and URLs (fetched into a temporary directory, mode 0600, Last-Modified as mtime).
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { invalid, notFound } from '../core/errors.js';
import { decompressed } from '../archive/compression.js';

/** The decompressed bytes of a local archive (tar, possibly gzip/bzip2/xz/zstd compressed), or undefined when the file is not one. */
export async function archiveStream(path: string): Promise<AsyncIterable<Buffer> | undefined> {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const head = Buffer.alloc(6);
  const n = fs.readSync(fd, head, 0, 6, 0);
  fs.closeSync(fd);
  const h = head.subarray(0, n);
  const tool = h[0] === 0x42 && h[1] === 0x5a && h[2] === 0x68 ? 'bzip2' : h.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ? 'xz' : undefined;
  const open = (): AsyncIterable<Buffer> => {
    if (!tool) return decompressed(fs.createReadStream(path), { what: path });
    const p = spawn(tool, ['-dc', path], { stdio: ['ignore', 'pipe', 'ignore'] });
    return p.stdout as Readable;
  };
  // a tar's first header block decides (as Docker's isArchivePath: the first tar.Next() succeeds)
  let first = Buffer.alloc(0);
  try {
    for await (const chunk of open()) {
      first = Buffer.concat([first, chunk]);
      if (first.length >= 512) break;
    }
  } catch {
    return undefined;
  }
  if (first.length < 512 || !isTarHeader(first.subarray(0, 512))) return undefined;
  return open();
}

function isTarHeader(b: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  const stored = parseInt(b.subarray(148, 156).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
  return stored === sum && b[0] !== 0;
}

/** ADD of a URL: fetched into dir under the URL's last path segment (mode 0600, as Docker). */
export async function download(url: string, dir: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    throw notFound('add_url', `ADD failed: cannot fetch ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  if (!res.ok) throw notFound('add_url', `ADD failed: cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`);
  const name = posix.basename(new URL(url).pathname) || 'download';
  if (name === '..' || name === '.') throw invalid('add_url', `ADD failed: cannot derive a file name from ${url}`);
  const file = `${dir}/${name}`;
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  const lm = res.headers.get('last-modified');
  if (lm && !Number.isNaN(Date.parse(lm))) fs.utimesSync(file, new Date(lm), new Date(lm));
  return name;
}
