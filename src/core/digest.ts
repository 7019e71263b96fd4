import { createHash } from 'node:crypto';
import { invalid } from './errors.js';

/**
 * Branded string types for content addresses that must never be mixed up:
 * a Digest addresses a blob as stored (maybe compressed), a DiffID is the sha256
 * of an uncompressed layer tar, a ChainID names a stack of layers, an ImageID is
 * the sha256 of an image config. All are "sha256:<64 lowercase hex>".
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type Digest = Brand<string, 'Digest'>;
export type DiffID = Brand<string, 'DiffID'>;
export type ChainID = Brand<string, 'ChainID'>;
export type ImageID = Brand<string, 'ImageID'>;
/** 64 lowercase hex chars naming an overlay2 directory (cache-id, mount-id). */
export type CacheID = Brand<string, 'CacheID'>;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const HEX64_RE = /^[a-f0-9]{64}$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function isHex64(s: string): boolean {
  return HEX64_RE.test(s);
}

/** Validate a "sha256:<hex>" string from untrusted input. `what` names it in the error. */
export function parseDigest<T extends Digest | DiffID | ChainID | ImageID = Digest>(s: unknown, what = 'digest'): T {
  if (typeof s !== 'string' || !DIGEST_RE.test(s)) {
    throw invalid(
      'invalid_digest',
      `invalid ${what} ${JSON.stringify(s)}: want "sha256:" and 64 lowercase hex characters`,
    );
  }
  return s as T;
}

export function hexOf(d: string): string {
  return d.startsWith('sha256:') ? d.slice(7) : d;
}

/** Up to this many bytes go to the small-input hasher, when one is registered. */
const SMALL = 64 * 1024;
let smallHasher: ((data: Uint8Array) => string | undefined) | undefined;

/**
 * Hash small inputs with `f` (hex, or undefined when it cannot) instead of node:crypto: src/native/index.ts registers
 * the addon's SHA-256 when it loads, so that a read-only command (images' config checks, chain IDs) need not load
 * node:crypto, ~9 ms of its CPU.
 */
export function useSmallSha256(f: (data: Uint8Array) => string | undefined): void {
  smallHasher = f;
}

export function sha256(data: string | Uint8Array): Digest {
  if (smallHasher && data.length <= SMALL) {
    const hex = smallHasher(typeof data === 'string' ? Buffer.from(data) : data);
    if (hex !== undefined) return `sha256:${hex}` as Digest;
  }
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** chainID(L1) = diffID(L1); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIDs(diffIDs: readonly DiffID[]): ChainID[] {
  const out: ChainID[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push((prev === undefined ? d : sha256(`${prev} ${d}`)) as string as ChainID);
  }
  return out;
}

export function shortId(d: string, n = 12): string {
  return hexOf(d).slice(0, n);
}
