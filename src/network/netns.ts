import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MNT_DETACH, umount2 } from '../native/index.js';

/** A container's network namespace: a bind mount of nsfs at /run/berth/netns/<id>, which its plan joins. */
export const NETNS_DIR = '/run/berth/netns';
export const netnsPath = (id: string): string => `${NETNS_DIR}/${id}`;

// (promisified at the first call: child_process loads then, not when a read-only command loads this module)
const run = (file: string, args: string[]) => promisify(execFile)(file, args);

/** Make the container's network namespace at netns/<id> (util-linux unshare binds the new namespace there). */
export async function makeNetns(id: string): Promise<string> {
  const path = netnsPath(id);
  fs.mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 });
  fs.closeSync(fs.openSync(path, fs.constants.O_CREAT | fs.constants.O_RDONLY, 0o444));
  await run('unshare', [`--net=${path}`, 'true']);
  return path;
}

/** Whether a process is in the container's netns (a `container:` joiner, a process not yet reaped): /proc scanned. */
export function netnsInUse(id: string): boolean {
  let ino: number;
  try {
    ino = fs.statSync(netnsPath(id)).ino;
  } catch {
    return false;
  }
  const want = `net:[${ino}]`;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readlinkSync(`/proc/${p}/ns/net`) === want) return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

/** Remove a container's netns mount and file (nothing if there is none). */
export function removeNetns(id: string): void {
  const path = netnsPath(id);
  try {
    umount2(path, MNT_DETACH);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
  }
  fs.rmSync(path, { force: true });
}
