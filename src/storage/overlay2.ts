import { urandom } from './fsutil.js';

/**
 * Pure facts of Docker's overlay2 graph driver layout. Nothing here touches
 * the store's files (link names take random bytes from /dev/urandom): "mount is data" — callers perform the mount.
 */

export const MAX_LOWERS = 128;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A short link name: 26 characters of base32 (A-Z2-7), as Docker's generateID(16 bytes) encodes. */
export function newLinkName(): string {
  const bytes = urandom(16);
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

/** One fsconfig(2) parameter: key, value (null for a flag), whether the value is a directory (passed by fd). */
export type FsParam = [key: string, value: string | null, asPath: boolean];

export interface MountSpec {
  source: 'overlay';
  fstype: 'overlay';
  /** Mount options for mount(2), relative to `cwd` (the overlay2 dir) so that they stay under one page. */
  options: string;
  cwd: string;
  target: string;
  /** The same options with absolute paths (as Docker mounts when they fit in one page). */
  absoluteOptions: string;
  /**
   * The same mount for the mount API: absolute paths, one lower layer per `lowerdir+` (Linux 6.8), so neither a cwd
   * nor the page limit is involved.
   */
  params: FsParam[];
}

/**
 * Overlay mount for a layer: its own lower chain, upper = <id>/diff, work = <id>/work.
 * Docker prefixes index=off when the overlay module has an `index` parameter.
 */
export function mountSpec(
  overlayDir: string,
  cacheId: string,
  lower: string,
  indexParamExists: boolean,
  opts: { volatile?: boolean } = {},
): MountSpec {
  const lowers = lower ? lower.split(':') : [];
  const upper = `${cacheId}/diff`;
  const work = `${cacheId}/work`;
  const flags = [...(indexParamExists ? ['index=off'] : []), ...(opts.volatile ? ['volatile'] : [])];
  const opt = [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`];
  const options = [...(indexParamExists ? ['index=off'] : []), ...opt, ...(opts.volatile ? ['volatile'] : [])];
  const abs = (p: string) => `${overlayDir}/${p}`;
  const absOpt = [`lowerdir=${lowers.map(abs).join(':')}`, `upperdir=${abs(upper)}`, `workdir=${abs(work)}`];
  const absoluteOptions = [
    ...(indexParamExists ? ['index=off'] : []),
    ...absOpt,
    ...(opts.volatile ? ['volatile'] : []),
  ];
  const params: FsParam[] = [
    ['source', 'overlay', false],
    ...flags.map((f): FsParam => (f.includes('=') ? [f.split('=')[0]!, f.split('=')[1]!, false] : [f, null, false])),
    ...lowers.map((l): FsParam => ['lowerdir+', abs(l), true]),
    ['upperdir', abs(upper), true],
    ['workdir', abs(work), true],
  ];
  return {
    source: 'overlay',
    fstype: 'overlay',
    options: options.join(','),
    cwd: overlayDir,
    target: abs(`${cacheId}/merged`),
    absoluteOptions: absoluteOptions.join(','),
    params,
  };
}

/** Whether the kernel's overlayfs takes its layers one at a time through the mount API (`lowerdir+`, Linux 6.8). */
export function hasLowerdirAppend(release: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 6 || (major === 6 && minor >= 8);
}

/** Read-only mount of an image (no upper): lowerdir is the layer's diff link followed by its lowers. */
export function readOnlyOptions(link: string, lower: string | undefined): string {
  return `lowerdir=${[`l/${link}`, ...(lower ? lower.split(':') : [])].join(':')}`;
}
