/**
 * ADD's sources that are not plain context files: local archives (detected as
 * Docker's isArchivePath does: the first tar header of the decompressed bytes)
 * and URLs (fetched into a temporary directory, mode 0600, Last-Modified as mtime).
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { spawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { invalid, notFound } from '../core/errors.js';
import { decompressed } from '../archive/compression.js';

/**
 * The decompressed bytes of a local archive (tar, possibly gzip/bzip2/xz/zstd compressed), or undefined when the file
 * is not one.
 */
export async function archiveStream(path: string): Promise<AsyncIterable<Buffer> | undefined> {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  const head = Buffer.alloc(6);
  const n = fs.readSync(fd, head, 0, 6, 0);
  fs.closeSync(fd);
  const h = head.subarray(0, n);
  const tool =
    h[0] === 0x42 && h[1] === 0x5a && h[2] === 0x68
      ? 'bzip2'
      : h.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
        ? 'xz'
        : undefined;
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
  let res: IncomingMessage;
  let body: Buffer;
  try {
    res = await httpGet(new URL(url));
    body = Buffer.concat((await res.toArray()) as Buffer[]);
  } catch (err) {
    throw notFound('add_url', `ADD failed: cannot fetch ${url}: ${(err as Error).message}`);
  }
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299)
    throw notFound('add_url', `ADD failed: cannot fetch ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd());
  const name = posix.basename(new URL(url).pathname) || 'download';
  if (name === '..' || name === '.') throw invalid('add_url', `ADD failed: cannot derive a file name from ${url}`);
  const file = `${dir}/${name}`;
  fs.writeFileSync(file, body, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  const lm = res.headers['last-modified'];
  if (lm && !Number.isNaN(Date.parse(lm))) fs.utimesSync(file, new Date(lm), new Date(lm));
  return name;
}

/**
 * Node's default trust (its own store, or the system's where Node is built to use it) plus the
 * certificates of BERTH_EXTRA_CA_CERTS; a file that cannot be read is skipped with Node's warning.
 */
function withExtraCas(tls: typeof import('node:tls')): import('node:tls').SecureContext | undefined {
  const file = process.env.BERTH_EXTRA_CA_CERTS;
  if (!file) return undefined;
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
    return undefined;
  }
  const sc = tls.createSecureContext();
  // (the documented `ca` option would replace the default store instead of adding to it)
  (sc as unknown as { context: { addCACert(pem: string): void } }).context.addCACert(pem);
  return sc;
}

/**
 * GET, following up to 10 redirects. https trusts Node's CAs plus the file
 * NODE_EXTRA_CA_CERTS names: bin/berth passes that on as BERTH_EXTRA_CA_CERTS,
 * read here, when it is needed (Node would parse it at every start-up).
 */
async function httpGet(url: URL, redirects = 0): Promise<IncomingMessage> {
  const tls = url.protocol === 'https:';
  if (!tls && url.protocol !== 'http:') throw new Error(`unsupported protocol ${url.protocol}`);
  // required when used: a build without ADD URLs does not load node:http
  const load = createRequire(import.meta.url);
  const mod = (tls ? load('node:https') : load('node:http')) as typeof import('node:https');
  const secureContext = tls ? withExtraCas(load('node:tls') as typeof import('node:tls')) : undefined;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = mod.get(url, { ...(secureContext ? { secureContext } : {}), timeout: 60_000 }, resolve);
    req.on('timeout', () => req.destroy(new Error('no answer for 60 s')));
    req.on('error', reject);
  });
  const to = res.headers.location;
  if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && to) {
    res.resume();
    if (redirects >= 10) throw new Error('stopped after 10 redirects');
    return httpGet(new URL(to, url), redirects + 1);
  }
  return res;
}
