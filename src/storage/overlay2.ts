import { randomBytes } from 'node:crypto';

/**
 * Pure facts of Docker's overlay2 graph driver layout. Nothing here touches
 * the filesystem: "mount is data" — callers perform the mount.
 */

export const MAX_LOWERS = 128;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A short link name: 26 characters of base32 (A-Z2-7), as Docker's generateID(16 bytes) encodes. */
export function newLinkName(): string {
  const bytes = randomBytes(16);
  let bits = 0,
    value = 0,
    out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out.slice(0, 26);
}

export function isLinkName(s: string): boolean {
  return /^[A-Z2-7]{26}$/.test(s);
}

/** The `lower` file of a child of `parentLink` whose parent's own lower is `parentLower`. */
export function lowerFor(parentLink: string, parentLower: string | undefined): string {
  const parts = [`l/${parentLink}`, ...(parentLower ? parentLower.split(':') : [])];
  if (parts.length > MAX_LOWERS) throw new Error(`too many lower layers (${parts.length} > ${MAX_LOWERS})`);
  return parts.join(':');
}

export interface MountSpec {
  source: 'overlay';
  fstype: 'overlay';
  /** Mount options, relative to `cwd` (the overlay2 dir) so they stay under one page. */
  options: string;
  cwd: string;
  target: string;
}

/**
 * Overlay mount for a layer: its own lower chain, upper = <id>/diff, work = <id>/work.
 * Docker prefixes index=off when the overlay module has an `index` parameter.
 */
export function mountSpec(overlayDir: string, cacheId: string, lower: string, indexParamExists: boolean): MountSpec {
  const opts = `${indexParamExists ? 'index=off,' : ''}lowerdir=${lower},upperdir=${cacheId}/diff,workdir=${cacheId}/work`;
  return {
    source: 'overlay',
    fstype: 'overlay',
    options: opts,
    cwd: overlayDir,
    target: `${overlayDir}/${cacheId}/merged`,
  };
}

/** Read-only mount of an image (no upper): lowerdir is the layer's diff link followed by its lowers. */
export function readOnlyOptions(link: string, lower: string | undefined): string {
  return `lowerdir=${[`l/${link}`, ...(lower ? lower.split(':') : [])].join(':')}`;
}
