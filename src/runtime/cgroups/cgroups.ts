/**
 * Container cgroups: create one per container under a parent ('berth', as
 * Docker's 'docker'), write its limits, and later freeze, inspect, update and
 * remove it. v1 (also hybrid hosts) makes the cgroup in every hierarchy, as
 * runc's cgroupfs driver; v2 makes one directory. A process joins by writing
 * "0" to each of `procsFiles` (the native helper's join-cgroup step), so this
 * module never moves a process itself.
 *
 * Handles are plain data: a later berth process gets the same one with
 * openCgroup(). What is written is decided by cgroup-files.ts.
 */
import * as fs from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, conflict, invalid, isErrno, notFound, unsupported, wrap } from '../../core/errors.js';
import { controllerOf, parseBlkio, parseIoStat, parseKeyed, parseLimit, v1Writes, v2Writes } from './files.js';
import { cgroupPaths, detectCgroups, mountPointOf, type CgroupHost } from './host.js';
import type { Limits } from './limits.js';
import * as native from '../../native/index.js';
import { deviceProgram } from './device-bpf.js';

export { checkLimits, parseBytes, parseCpus, parseMemorySwap, type Limits } from './limits.js';
export { detectCgroups, swapAccounting, type CgroupHost } from './host.js';

export interface Cgroup {
  readonly id: string;
  readonly parent: string;
  readonly version: 1 | 2;
  /**
   * The cgroup's directory in each hierarchy, keyed by the hierarchy's
   * controllers as mounted ('memory', 'cpu,cpuacct', 'name=systemd'); '' is
   * the cgroup2 tree (the only key on v2, the hybrid tree on v1).
   */
  readonly paths: Readonly<Record<string, string>>;
  /** The cgroup.procs files a process writes "0" to, to join (one per hierarchy). */
  readonly procsFiles: readonly string[];
}

/** What `docker stats` shows, from the cgroup's files. */
export interface CgroupStats {
  cpuUsageNs: number;
  /** Usage without inactive page cache, as docker stats computes it. */
  memoryUsage: number;
  /** The memory limit, or the host's memory when unlimited (as dockerd). */
  memoryLimit: number;
  memoryCache?: number;
  pids: number;
  /** 0 when unlimited (as Docker's PidsStats.Limit). */
  pidsLimit: number;
  blkioRead: number;
  blkioWrite: number;
}

/** Controllers berth enables for its cgroups on v2 (limits and stats need them). */
const V2_CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'pids'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Create cgroup `parent/id` and write `limits` (normalize them with
 * checkLimits first). Idempotent. On failure what this call created is
 * removed again. `warnings` are limits the host cannot apply and dropped.
 */
export function createCgroup(
  id: string,
  limits: Limits,
  parent = 'berth',
  host: CgroupHost = detectCgroups(),
): Cgroup & { warnings: string[] } {
  const cg = handle(id, parent, host.version, cgroupPaths(host, checkNames(id, parent), id));
  const created: string[] = [];
  try {
    for (const [key, dir] of Object.entries(cg.paths)) {
      if (makeDirs(mountPointOf(host, key)!, [...parent.split('/'), id], key.split(',').includes('cpuset')))
        created.push(dir);
    }
    if (host.version === 2) enableControllers(host.root, parent);
    return { ...cg, warnings: applyLimits(cg, limits) };
  } catch (e) {
    for (const dir of created.reverse())
      try {
        fs.rmdirSync(dir);
      } catch {
        /* reported below */
      }
    throw wrap(`create cgroup "${parent}/${id}"`, e);
  }
}

/** The handle of an existing cgroup (its directories that exist). */
export function openCgroup(id: string, parent = 'berth', host: CgroupHost = detectCgroups()): Cgroup {
  const all = cgroupPaths(host, checkNames(id, parent), id);
  const paths = Object.fromEntries(Object.entries(all).filter(([, d]) => fs.existsSync(d)));
  if (Object.keys(paths).length === 0)
    throw notFound('cgroup_not_found', `open cgroup "${parent}/${id}": no such cgroup`);
  return handle(id, parent, host.version, paths);
}

/** Change limits of a cgroup (docker update); returns warnings for dropped limits. */
export function updateLimits(cg: Cgroup, limits: Limits): string[] {
  try {
    return applyLimits(cg, limits);
  } catch (e) {
    throw wrap(`update cgroup "${cg.parent}/${cg.id}"`, e);
  }
}

/** Remove the cgroup's directories, SIGKILLing what still runs in it (frozen processes are thawed to die). */
export async function removeCgroup(cg: Cgroup, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let left = pids(cg); left.length > 0; left = pids(cg)) {
    if (Date.now() > end)
      throw conflict('cgroup_busy', `remove cgroup "${cg.parent}/${cg.id}": processes ${left.join(', ')} did not exit`);
    killAll(cg, left);
    await sleep(20);
  }
  for (const dir of Object.values(cg.paths)) {
    for (;;) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (e) {
        if (isErrno(e, 'ENOENT')) break;
        if (!isErrno(e, 'EBUSY') || Date.now() > end)
          throw wrap(`remove cgroup "${cg.parent}/${cg.id}": rmdir "${dir}"`, e);
        await sleep(20);
      }
    }
  }
}

/** Freeze every process of the cgroup; resolves once the kernel reports it frozen. */
export function freeze(cg: Cgroup, timeoutMs = 10_000): Promise<void> {
  return setFrozen(cg, true, timeoutMs);
}

export function thaw(cg: Cgroup, timeoutMs = 10_000): Promise<void> {
  return setFrozen(cg, false, timeoutMs);
}

/** The processes in the cgroup (in any of its hierarchies), ascending. */
export function pids(cg: Cgroup): number[] {
  const set = new Set<number>();
  for (const dir of Object.values(cg.paths)) {
    for (const p of readOr(join(dir, 'cgroup.procs'), '').split('\n')) if (p) set.add(Number(p));
  }
  return [...set].sort((a, b) => a - b);
}

/**
 * Whether the kernel's OOM killer killed a process of the cgroup: v1
 * memory.oom_control "oom_kill" (kernel >= 4.13), else "under_oom" (failcnt
 * is not used: it also counts limit hits that reclaim resolved); v2
 * memory.events "oom_kill".
 */
export function oomKilled(cg: Cgroup): boolean {
  if (cg.version === 2) return (parseKeyed(readOr(join(cg.paths['']!, 'memory.events'), '')).get('oom_kill') ?? 0) > 0;
  const dir = dirOf(cg, 'memory');
  if (!dir) return false;
  const oom = parseKeyed(readOr(join(dir, 'memory.oom_control'), ''));
  return oom.has('oom_kill') ? oom.get('oom_kill')! > 0 : oom.get('under_oom') === 1;
}

/** docker stats' numbers for the cgroup; counters of controllers that are missing read 0. */
export function stats(cg: Cgroup): CgroupStats {
  const at = (controller: string, file: string) => {
    const dir = dirOf(cg, controller);
    return dir ? readOr(join(dir, file), '') : '';
  };
  const num = (text: string) => Number(text.trim()) || 0;
  const v1 = cg.version === 1;
  const usage = num(at('memory', v1 ? 'memory.usage_in_bytes' : 'memory.current'));
  const mstat = parseKeyed(at('memory', 'memory.stat'));
  const inactive = mstat.get(v1 ? 'total_inactive_file' : 'inactive_file');
  const cache = v1 ? (mstat.get('total_cache') ?? mstat.get('cache')) : mstat.get('file');
  const pidsMax = parseLimit(at('pids', 'pids.max'));
  const io = v1
    ? parseBlkio(
        at('blkio', 'blkio.throttle.io_service_bytes_recursive') || at('blkio', 'blkio.throttle.io_service_bytes'),
      )
    : parseIoStat(at('io', 'io.stat'));
  const memoryLimit = parseLimit(at('memory', v1 ? 'memory.limit_in_bytes' : 'memory.max'));
  return {
    // v2's cpu.stat is a core file: usage_usec is there without the cpu controller
    cpuUsageNs: v1
      ? num(at('cpuacct', 'cpuacct.usage'))
      : (parseKeyed(readOr(join(cg.paths['']!, 'cpu.stat'), '')).get('usage_usec') ?? 0) * 1000,
    memoryUsage: inactive !== undefined && inactive < usage ? usage - inactive : usage,
    memoryLimit: Math.min(memoryLimit, os.totalmem()),
    ...(cache !== undefined ? { memoryCache: cache } : {}),
    pids: num(at('pids', 'pids.current')),
    pidsLimit: pidsMax === Infinity ? 0 : pidsMax,
    blkioRead: io.read,
    blkioWrite: io.write,
  };
}

function handle(id: string, parent: string, version: 1 | 2, paths: Record<string, string>): Cgroup {
  return { id, parent, version, paths, procsFiles: Object.values(paths).map((d) => join(d, 'cgroup.procs')) };
}

function checkNames(id: string, parent: string): string {
  if (!NAME.test(id))
    throw invalid('invalid_cgroup_name', `cgroup name ${JSON.stringify(id)}: want letters, digits, "_", "." or "-"`);
  if (!parent.split('/').every((s) => NAME.test(s)))
    throw invalid('invalid_cgroup_name', `cgroup parent ${JSON.stringify(parent)}: want names like "berth" or "a/b"`);
  return parent;
}

/**
 * mkdir each level below the mount; a new cpuset level gets its parent's cpus and mems, without which nothing can join.
 * Returns whether the leaf was made.
 */
function makeDirs(mountPoint: string, segments: string[], cpuset: boolean): boolean {
  let dir = mountPoint;
  let made = false;
  for (const seg of segments) {
    const up = dir;
    dir = join(dir, seg);
    try {
      fs.mkdirSync(dir);
      made = true;
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) throw e;
      made = false;
    }
    if (cpuset) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (fs.readFileSync(join(dir, f), 'utf8').trim() === '')
          write(join(dir, f), fs.readFileSync(join(up, f), 'utf8').trim());
      }
    }
  }
  return made;
}

/**
 * v2: enable berth's controllers for the children of root and each parent level (best effort: a limit that needs a
 * missing one fails later, naming it).
 */
function enableControllers(root: string, parent: string): void {
  let dir = root;
  for (const seg of ['', ...parent.split('/')]) {
    dir = join(dir, seg);
    const available = fs.readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
    const enabled = fs.readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
    for (const c of V2_CONTROLLERS) {
      if (available.includes(c) && !enabled.includes(c))
        try {
          write(join(dir, 'cgroup.subtree_control'), `+${c}`);
        } catch {
          /* busy or not delegated */
        }
    }
  }
}

function applyLimits(cg: Cgroup, limits: Limits): string[] {
  let plan;
  if (cg.version === 1) {
    const mem = dirOf(cg, 'memory');
    const memsw = !!mem && fs.existsSync(join(mem, 'memory.memsw.limit_in_bytes'));
    plan = v1Writes(
      limits,
      mem
        ? { memsw, currentMemoryLimit: parseLimit(fs.readFileSync(join(mem, 'memory.limit_in_bytes'), 'utf8')) }
        : { memsw },
    );
  } else {
    plan = v2Writes(limits, { swap: fs.existsSync(join(cg.paths['']!, 'memory.swap.max')) });
  }
  for (const [file, value] of plan.writes) {
    const controller = controllerOf(file);
    const dir = dirOf(cg, controller);
    if (!dir)
      throw unsupported(
        'cgroup_controller_missing',
        `set ${file}: the ${controller} controller is not ${cg.version === 1 ? 'mounted' : 'enabled'} for this cgroup`,
      );
    try {
      write(join(dir, file), value);
    } catch (e) {
      if (file === 'memory.limit_in_bytes' && e instanceof BerthError && e.code === 'EINVAL') {
        throw invalid(
          'invalid_resources',
          `${e.message}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`,
          e,
        );
      }
      throw e;
    }
  }
  return plan.warnings;
}

/** The cgroup's directory that has `controller`'s files; on v2 only when the controller is enabled for it. */
function dirOf(cg: Cgroup, controller: string): string | undefined {
  if (cg.version === 2) {
    const dir = cg.paths['']!;
    return readOr(join(dir, 'cgroup.controllers'), '').split(/\s+/).includes(controller) ? dir : undefined;
  }
  const key = Object.keys(cg.paths).find((k) => k.split(',').includes(controller));
  return key === undefined ? undefined : cg.paths[key];
}

/**
 * The file that says whether the cgroup is frozen, and its content when it is not (v1 freezer.state, v2 cgroup.freeze).
 */
export function thawedState(cg: Cgroup): { file: string; thawed: string } | undefined {
  const v1 = cg.version === 1 ? dirOf(cg, 'freezer') : undefined;
  if (v1) return { file: join(v1, 'freezer.state'), thawed: 'THAWED' };
  const v2 =
    cg.paths[''] !== undefined && fs.existsSync(join(cg.paths[''], 'cgroup.freeze')) ? cg.paths[''] : undefined;
  return v2 === undefined ? undefined : { file: join(v2, 'cgroup.freeze'), thawed: '0' };
}

async function setFrozen(cg: Cgroup, frozen: boolean, timeoutMs: number): Promise<void> {
  const action = `${frozen ? 'freeze' : 'thaw'} cgroup "${cg.parent}/${cg.id}"`;
  const freezer = thawedState(cg);
  if (!freezer)
    throw unsupported(
      'cgroup_freezer_missing',
      `${action}: no freezer (neither the v1 freezer hierarchy nor cgroup.freeze)`,
    );
  const v1 = freezer.thawed === 'THAWED';
  const [file, value, status, done] = v1
    ? [
        freezer.file,
        frozen ? 'FROZEN' : 'THAWED',
        freezer.file,
        (t: string) => t.trim() === (frozen ? 'FROZEN' : 'THAWED'),
      ]
    : [
        freezer.file,
        frozen ? '1' : '0',
        join(dirname(freezer.file), 'cgroup.events'),
        (t: string) => parseKeyed(t).get('frozen') === (frozen ? 1 : 0),
      ];
  const end = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    // v1 can stay FREEZING (a task in a non-freezable sleep); asking again retries it, as runc does
    if (i % 10 === 0)
      try {
        write(file, value);
      } catch (e) {
        throw wrap(action, e);
      }
    const state = readOr(status, '');
    if (done(state)) return;
    if (Date.now() > end) {
      if (frozen)
        try {
          write(file, freezer.thawed);
        } catch {
          /* the error below says what happened */
        }
      throw conflict(
        'cgroup_freeze_timeout',
        `${action}: not done after ${timeoutMs} ms (${JSON.stringify(state.trim())})`,
      );
    }
    await sleep(10);
  }
}

/** SIGKILL the processes (and v2's cgroup.kill), then thaw: frozen processes die only when thawed. */
function killAll(cg: Cgroup, list: number[]): void {
  const v2 = cg.paths[''];
  if (v2 !== undefined && fs.existsSync(join(v2, 'cgroup.kill')))
    try {
      write(join(v2, 'cgroup.kill'), '1');
    } catch {
      /* signals below */
    }
  for (const pid of list)
    try {
      process.kill(pid, 'SIGKILL');
    } catch (e) {
      if (!isErrno(e, 'ESRCH')) throw e;
    }
  const freezer = cg.version === 1 ? dirOf(cg, 'freezer') : undefined;
  if (freezer)
    try {
      write(join(freezer, 'freezer.state'), 'THAWED');
    } catch {
      /* removed meanwhile */
    }
  if (v2 !== undefined && fs.existsSync(join(v2, 'cgroup.freeze')))
    try {
      write(join(v2, 'cgroup.freeze'), '0');
    } catch {
      /* removed meanwhile */
    }
}

/** Write a cgroup file; errors name the value and the file. */
function write(path: string, value: string): void {
  try {
    fs.writeFileSync(path, value);
  } catch (e) {
    throw wrap(`write ${JSON.stringify(value)} to "${path}"`, e);
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return fallback;
    throw e;
  }
}

/**
 * A devices cgroup rule as OCI's linux.resources.devices: allow or deny, type a|c|b, major/minor (-1 any), access rwm.
 */
export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  major: number;
  minor: number;
  access: string;
}

/** Docker's default device rules: deny everything, then mknod of any node and use of the usual character devices. */
export const DEFAULT_DEVICE_RULES: DeviceRule[] = [
  { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' },
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // pts
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // net/tun
];

/** A rule as the v1 devices.allow/devices.deny line ("c 1:3 rwm", "a"). */
export function deviceRuleLine(r: DeviceRule): string {
  if (r.type === 'a') return 'a';
  const n = (x: number) => (x < 0 ? '*' : String(x));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access}`;
}

/**
 * Apply device rules in order: on v1, lines written to the devices controller;
 * on v2, an eBPF device program attached to the cgroup (device-bpf.ts). A v1
 * host without a devices hierarchy gets a warning (returned).
 */
export function applyDeviceRules(cg: Cgroup, rules: readonly DeviceRule[]): string[] {
  if (cg.version === 2) {
    const dir = cg.paths[''];
    if (dir === undefined) return ['device rules not applied: the cgroup has no cgroup2 directory'];
    try {
      native.attachDeviceFilter(dir, deviceProgram(rules));
    } catch (e) {
      throw wrap(`cgroup "${cg.parent}/${cg.id}": attach the device program`, e);
    }
    return [];
  }
  const key = Object.keys(cg.paths).find((k) => k.split(',').includes('devices'));
  if (!key) return ['device rules not applied: no devices cgroup controller'];
  const dir = cg.paths[key]!;
  for (const r of rules) {
    const file = `${dir}/${r.allow ? 'devices.allow' : 'devices.deny'}`;
    try {
      fs.writeFileSync(file, deviceRuleLine(r));
    } catch (e) {
      throw wrap(`cgroup "${cg.parent}/${cg.id}": write ${JSON.stringify(deviceRuleLine(r))} to ${file}`, e);
    }
  }
  return [];
}

/** The file whose "oom_kill N" line counts the cgroup's OOM kills (v1 memory.oom_control, v2 memory.events). */
export function oomCounterFile(cg: Cgroup): string | undefined {
  if (cg.version === 2) return cg.paths[''] ? `${cg.paths['']}/memory.events` : undefined;
  const key = Object.keys(cg.paths).find((k) => k.split(',').includes('memory'));
  return key ? `${cg.paths[key]}/memory.oom_control` : undefined;
}
