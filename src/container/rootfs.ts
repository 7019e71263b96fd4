import * as fs from 'node:fs';
import * as os from 'node:os';
import { resolve } from 'node:path';
import { invalid, wrap } from '../core/errors.js';
import * as native from '../native/index.js';
import { spreadLayers, type Layer } from '../storage/layer-store.js';
import { hasLowerdirAppend, lowerFor, mountSpec, newLinkName, type MountSpec } from '../storage/overlay2.js';
import type { StorePaths } from '../storage/paths.js';
import type { Txn } from '../storage/txn.js';

/** Docker's init layer content: directories, then empty 0755 placeholder files, then /etc/mtab. */
const INIT_DIRS = ['dev', 'dev/pts', 'dev/shm', 'proc', 'sys', 'etc'];
const INIT_FILES = ['.dockerenv', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname', 'dev/console'];

function makeLayerDir(paths: StorePaths, txn: Txn, id: string, lower: string): { link: string } {
  const link = newLinkName();
  txn.add({ op: 'layer-dir', cacheId: id, link });
  const dir = paths.cacheDir(id);
  spreadLayers(paths.overlay);
  fs.mkdirSync(dir, 0o710);
  fs.mkdirSync(`${dir}/diff`, 0o755);
  fs.mkdirSync(`${dir}/work`, 0o700);
  fs.writeFileSync(`${dir}/link`, link);
  if (lower) fs.writeFileSync(`${dir}/lower`, lower);
  fs.symlinkSync(`../${id}/diff`, `${paths.links}/${link}`);
  return { link };
}

/**
 * Create `<mountId>-init` (placeholders) on the image's top layer and `<mountId>`
 * (the read-write layer) on the init layer, as Docker's layer store does.
 */
export function createRwLayers(paths: StorePaths, txn: Txn, top: Layer | undefined, mountId: string): void {
  const initId = `${mountId}-init`;
  const initLower = top ? lowerFor(top.link, top.lower) : '';
  const init = makeLayerDir(paths, txn, initId, initLower);
  const diff = `${paths.cacheDir(initId)}/diff`;
  for (const d of INIT_DIRS) fs.mkdirSync(`${diff}/${d}`, { mode: 0o755, recursive: true });
  for (const f of INIT_FILES) fs.writeFileSync(`${diff}/${f}`, '', { mode: 0o755 });
  for (const f of INIT_FILES) fs.chmodSync(`${diff}/${f}`, 0o755);
  fs.symlinkSync('/proc/mounts', `${diff}/etc/mtab`);
  if (top) fs.writeFileSync(`${paths.cacheDir(top.cacheId)}/committed`, '', { mode: 0o600 });
  makeLayerDir(paths, txn, mountId, lowerFor(init.link, initLower || undefined));
}

export function indexParamExists(): boolean {
  return fs.existsSync('/sys/module/overlay/parameters/index');
}

/** Mount the rw layer's union at overlay2/<mountId>/merged (idempotent). Returns the merged path. */
export function mountRootfs(paths: StorePaths, mountId: string, opts: { volatile?: boolean } = {}): string {
  const lower = fs.readFileSync(`${paths.cacheDir(mountId)}/lower`, 'utf8');
  // a container removed when it stops (--rm) never needs its writes synced: overlay's volatile skips the
  // sync of the upper filesystem at unmount, which is most of a short container's teardown
  const spec = mountSpec(paths.overlay, mountId, lower, indexParamExists(), opts);
  // a volatile mount leaves work/work/incompat/volatile, which makes overlayfs refuse the next mount;
  // it was unmounted cleanly (else berth would have been killed, and its rw layer is only a leftover)
  fs.rmSync(`${paths.cacheDir(mountId)}/work/work/incompat`, { recursive: true, force: true });
  fs.mkdirSync(spec.target, { recursive: true, mode: 0o700 });
  if (isMountPoint(spec.target)) return spec.target;
  try {
    mountOverlay(spec);
  } catch (err) {
    throw wrap(`mount overlay for ${mountId.slice(0, 12)}`, err);
  }
  return spec.target;
}

/** mount(2) takes its options in one page. */
const PAGE_OPTIONS = 4000;

export type OverlayMethod = 'absolute' | 'fsmount' | 'legacy';

/**
 * Perform an overlay mount without touching the process's cwd (shared by every request of a long-lived process). As
 * Docker does: mount(2) with absolute paths when the options fit in one page; past that, since Linux 6.8, the mount
 * API, which takes the layers one at a time (`lowerdir+`); on older kernels mount(2) with options relative to the
 * overlay2 dir (short l/ links, so that up to 128 layers fit), made by a short-lived child process in that dir.
 * `method` is for tests.
 */
export function mountOverlay(spec: MountSpec, method: OverlayMethod = defaultMethod(spec)): void {
  if (method === 'absolute') return native.mount(spec.source, spec.target, spec.fstype, 0, spec.absoluteOptions);
  if (method === 'fsmount') return native.fsmount(spec.target, spec.fstype, spec.params);
  if (spec.options.length > PAGE_OPTIONS)
    throw invalid('mount_options', `overlay mount options are ${spec.options.length} bytes, over one page`);
  native.mountIn(spec.cwd, spec.source, spec.target, spec.fstype, 0, spec.options);
}

let lowerdirAppend: boolean | undefined;
function defaultMethod(spec: MountSpec): OverlayMethod {
  if (spec.absoluteOptions.length <= PAGE_OPTIONS) return 'absolute';
  lowerdirAppend ??= hasLowerdirAppend(os.release());
  return lowerdirAppend ? 'fsmount' : 'legacy';
}

export function unmountRootfs(paths: StorePaths, mountId: string): void {
  const target = `${paths.cacheDir(mountId)}/merged`;
  for (let i = 0; i < 8 && isMountPoint(target); i++) {
    try {
      native.umount2(target, native.MNT_DETACH);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    }
  }
  try {
    fs.rmdirSync(target);
  } catch {
    /* already gone */
  }
}

export function isMountPoint(path: string): boolean {
  // mountinfo has absolute paths; a relative data root is relative to the cwd, which nothing changes
  return mountPoints().has(resolve(path));
}

/** Every mount point of this mount namespace (one read of /proc/self/mountinfo), for checking many paths at once. */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4]) out.add(unescapeMount(f[4]));
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
