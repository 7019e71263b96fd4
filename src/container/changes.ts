import * as fs from 'node:fs';
import type { StorePaths } from '../storage/paths.js';
import * as native from '../native/index.js';
import { OPAQUE_XATTR } from '../archive/layer-apply.js';

export interface Change {
  Path: string;
  /** 0 modified, 1 added, 2 deleted (Docker's ChangeType). */
  Kind: 0 | 1 | 2;
}

/** The lower diff dirs of a rw layer, uppermost first (init layer, then the image's layers). */
function lowerDirs(paths: StorePaths, mountId: string): string[] {
  const lower = fs.readFileSync(`${paths.cacheDir(mountId)}/lower`, 'utf8');
  return lower.split(':').map((l) => `${paths.overlay}/${l}`);
}

/** The names a directory had below the rw layer (the union of the lower layers, whiteouts and opaque dirs applied). */
function namesBelow(lowers: string[], rel: string): Set<string> {
  const names = new Set<string>();
  const hidden = new Set<string>();
  for (const d of lowers) {
    const dir = rel ? `${d}/${rel}` : d;
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isDirectory()) break; // a file or whiteout here hides everything further down
    for (const n of fs.readdirSync(dir)) {
      if (names.has(n) || hidden.has(n)) continue;
      const e = fs.lstatSync(`${dir}/${n}`);
      if (e.isCharacterDevice() && e.rdev === 0) hidden.add(n);
      else names.add(n);
    }
    if (native.lgetxattr(dir, OPAQUE_XATTR)?.toString() === 'y') break;
  }
  return names;
}

function existsBelow(lowers: string[], rel: string): boolean {
  for (const d of lowers) {
    const st = fs.lstatSync(`${d}/${rel}`, { throwIfNoEntry: false });
    if (!st) continue;
    return !(st.isCharacterDevice() && st.rdev === 0);
  }
  return false;
}

/**
 * `docker diff` for an overlay rw layer: every path in the upper dir; a 0/0
 * char device is a deletion, a path that exists below is a change, else an add.
 * Sorted by path, as Docker prints them.
 */
export function containerChanges(paths: StorePaths, mountId: string): Change[] {
  const upper = `${paths.cacheDir(mountId)}/diff`;
  const lowers = lowerDirs(paths, mountId);
  const out: Change[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel ? `${upper}/${rel}` : upper).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(`${upper}/${r}`);
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: `/${r}`, Kind: 2 });
        continue;
      }
      out.push({ Path: `/${r}`, Kind: existsBelow(lowers, r) ? 0 : 1 });
      if (!st.isDirectory()) continue;
      // an opaque directory hides what was below it: each name it hid is a deletion (as Docker reports)
      if (native.lgetxattr(`${upper}/${r}`, OPAQUE_XATTR)?.toString() === 'y') {
        const here = new Set(fs.readdirSync(`${upper}/${r}`));
        for (const n of namesBelow(lowers, r)) if (!here.has(n)) out.push({ Path: `/${r}/${n}`, Kind: 2 });
      }
      walk(r);
    }
  };
  walk('');
  return out.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}
