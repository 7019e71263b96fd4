/**
 * The facts about this host and this installation that GET /version and GET /info report, read as dockerd reads
 * them (uname, /etc/os-release, statfs of the data root, the overlay module's parameters). The parsers are pure and
 * exported for unit tests; the readers touch only files (and `runc --version` once per process).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** berth's version: the engine's and the CLI's (package.json's, checked by a unit test). */
export const ENGINE_VERSION = '0.1.0';
/** The Engine API level berth speaks (dockerd 20.10's) and the oldest it accepts. */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';

/** Go's GOARCH for Node's process.arch (what docker prints in OS/Arch). */
export function goArch(arch: string = process.arch): string {
  return (
    ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as const)[
      arch as 'x64'
    ] ?? arch
  );
}

/** /etc/os-release as key -> value (quotes and backslash escapes removed, as the shell would). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1);
    out[m[1]!] = v.replace(/\\(.)/g, '$1');
  }
  return out;
}

/** dockerd's Operating System and OSVersion: PRETTY_NAME ("Linux" without one) and VERSION_ID. */
export function operatingSystem(): { name: string; version: string } {
  let text = '';
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      text = fs.readFileSync(f, 'utf8');
      break;
    } catch {
      // the next
    }
  }
  const r = parseOsRelease(text);
  return { name: r.PRETTY_NAME || 'Linux', version: r.VERSION_ID ?? '' };
}

/** The file system names dockerd's graphdriver gives a statfs magic (Backing Filesystem). */
const FS_NAMES: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0x52654973: 'reiserfs',
  0xf2f52010: 'f2fs',
  0x65735546: 'fuse',
  0x858458f6: 'ramfs',
  0x73717368: 'squashfs',
  0x3153464a: 'jfs',
  0x4244: 'hfs',
};

export function fsName(magic: number): string {
  return FS_NAMES[magic] ?? '<unknown>';
}

/** Whether readdir on `dir` gives entry types (overlayfs needs d_type): its first entry shows it. */
export function supportsDType(dir: string): boolean {
  try {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    // an entry without a type (DT_UNKNOWN) is neither file, dir, link nor anything else
    return entries.every(
      (e) =>
        e.isFile() ||
        e.isDirectory() ||
        e.isSymbolicLink() ||
        e.isFIFO() ||
        e.isSocket() ||
        e.isBlockDevice() ||
        e.isCharacterDevice(),
    );
  } catch {
    return true;
  }
}

/** A Y/N parameter of the overlay module, false when it is not loaded or has no such parameter. */
function overlayParameter(name: string): boolean {
  try {
    return /^[Yy1]/.test(fs.readFileSync(`/sys/module/overlay/parameters/${name}`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * overlay2's DriverStatus, in docker 28's order: the data root's file system, d_type, metacopy (berth's mounts
 * leave it to the module's default), whether diffs are taken from the upper dirs as they are (not when
 * redirect_dir or metacopy change what they hold), userxattr (berth runs as root: trusted.* xattrs).
 */
export function overlayStatus(root: string): Array<[string, string]> {
  let magic = 0;
  try {
    magic = Number(fs.statfsSync(root).type);
  } catch {
    // unknown below
  }
  const metacopy = overlayParameter('metacopy');
  const redirect = overlayParameter('redirect_dir');
  return [
    ['Backing Filesystem', fsName(magic)],
    ['Supports d_type', String(supportsDType(root))],
    ['Using metacopy', String(metacopy)],
    ['Native Overlay Diff', String(!metacopy && !redirect)],
    ['userxattr', 'false'],
  ];
}

/** `runc --version`'s first two lines: version and commit ("" when runc is not installed). */
export function parseRuncVersion(text: string): { version: string; commit: string } {
  return {
    version: /^runc version (\S+)/m.exec(text)?.[1] ?? '',
    commit: /^commit: (\S+)/m.exec(text)?.[1] ?? '',
  };
}

let runcCached: { version: string; commit: string } | undefined;
export function runcVersion(): { version: string; commit: string } {
  if (runcCached) return runcCached;
  const r = spawnSync('runc', ['--version'], { encoding: 'utf8', timeout: 5000 });
  return (runcCached = r.status === 0 ? parseRuncVersion(r.stdout) : { version: '', commit: '' });
}

/** The installation's top directory (where package.json is), found from this module's file. */
function installDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(resolve(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/** The commit a git checkout (or worktree: `.git` a file naming the git dir) is at, first 7 digits; "" if none. */
export function gitCommit(top: string | undefined = installDir()): string {
  if (!top) return '';
  try {
    let gitDir = resolve(top, '.git');
    if (fs.statSync(gitDir).isFile())
      gitDir = resolve(top, /^gitdir: (.*)$/m.exec(fs.readFileSync(gitDir, 'utf8'))![1]!);
    const head = fs.readFileSync(`${gitDir}/HEAD`, 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    // a worktree's refs are the common dir's
    const common = fs.existsSync(`${gitDir}/commondir`)
      ? resolve(gitDir, fs.readFileSync(`${gitDir}/commondir`, 'utf8').trim())
      : gitDir;
    for (const d of [gitDir, common]) {
      const f = `${d}/${ref}`;
      if (fs.existsSync(f)) return fs.readFileSync(f, 'utf8').trim().slice(0, 7);
    }
    const packed = fs.readFileSync(`${common}/packed-refs`, 'utf8');
    return (
      new RegExp(`^([0-9a-f]{40}) ${ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm')
        .exec(packed)?.[1]
        ?.slice(0, 7) ?? ''
    );
  } catch {
    return '';
  }
}

/** When this code was built: the modification time of the file it runs from. */
export function buildTime(): Date | undefined {
  try {
    return fs.statSync(fileURLToPath(import.meta.url)).mtime;
  } catch {
    return undefined;
  }
}

/** Go's time.ANSIC without the zone, as docker prints Built ("Fri May 30 12:07:14 2025"), in UTC. */
export function ansicTime(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Whether the kernel forwards IPv4 (dockerd warns when it does not). */
export function ipv4Forwarding(): boolean {
  try {
    return fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** uname's facts: kernel release, machine, host name; CPUs this process may use and the memory total. */
export function hostFacts(): { kernel: string; machine: string; name: string; ncpu: number; memTotal: number } {
  return {
    kernel: os.release(),
    machine: os.machine(),
    name: os.hostname(),
    ncpu: os.availableParallelism(),
    memTotal: os.totalmem(),
  };
}
