import { resolve } from 'node:path';
import type { FileLock } from '../storage/lock.js';
import { isMountPoint, mountPoints, unmountRootfs } from './rootfs.js';
import { sweepRunLocks, tryRunLock } from './run-lock.js';
import { cleanupRunc } from '../runtime/runc.js';
import { cgroupIds, endCgroup, hasCgroup } from './cgroup.js';
import { disconnectContainer } from './network.js';
import { hasNetwork } from '../network/bridge.js';
import { dnsEntriesById } from '../network/dns.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

/*
 * Settling: bringing records up to date with what happened while no berth
 * watched (a detached container that exited, a foreground berth or a monitor
 * that was killed), as dockerd restores its containers when it starts.
 */

/**
 * Settle every container nobody runs any more although it is marked running or still mounted: record how it ended,
 * unmount, remove it if it was --rm. `known`: the containers as just listed, to spare a second read of them.
 */
export async function reapStale(store: ContainerStore, known?: ContainerRecord[]): Promise<ContainerRecord[]> {
  const fixed: ContainerRecord[] = [];
  const list = known ?? (await store.listAsync());
  sweepRunLocks(store.images.paths.locks, (id) => store.runLockPlace(id), new Set(list.map((c) => c.ID)));
  if (list.length === 0) return fixed;
  // what many containers are checked against is read once: the mount table, the cgroup dirs
  const mounted = mountPoints();
  let cgroups: Set<string> | undefined;
  const dns = dnsEntriesById();
  for (const c of list) {
    if (!unsettled(store, c, { mounted, cgroups: () => (cgroups ??= cgroupIds()), dns })) continue;
    const lock = tryRunLock(store.runLockPlace(c.ID));
    if (!lock || lock === 'busy') continue; // a live berth process or monitor runs it (or it was just removed)
    try {
      if (await settleOne(store, c.ID, lock)) fixed.push(c);
    } finally {
      lock.release();
    }
  }
  return fixed;
}

/**
 * Whether the run whose monitor had this pid is the container's latest: a
 * detached start replaces state.json (before its monitor runs, under the run
 * lock), a foreground one records a StartedAt after that run's end.
 */
export function isLatestRun(store: ContainerStore, id: string, monitorPid: number): boolean {
  const m = store.monitorState(id);
  if (m?.Status !== 'exited' || m.MonitorPid !== monitorPid) return false;
  const c = store.tryGet(id);
  return !!c && !(c.State.Running && Date.parse(c.State.StartedAt) > Date.parse(m.FinishedAt));
}

/**
 * Whether, once nobody holds its run lock, the container still has an end to
 * record or something to clean up: marked running, mounted, or a cgroup left
 * although it ran (also a start whose berth was killed before recording it:
 * still "created" in config.v2.json, its monitor's state.json says it ran).
 * The cgroup of a container never started is not looked at: a foreground
 * `run` makes it before the container exists, and before it holds the lock.
 */
function unsettled(
  store: ContainerStore,
  c: ContainerRecord,
  known?: { mounted: Set<string>; cgroups: () => Set<string>; dns: Map<string, string[]> },
): boolean {
  if (c.State.Running) return true;
  if (hasNetwork(c.ID)) return true; // a bridge attachment left by a run nobody settled
  // its names in aardvark-dns without an attachment (a berth killed between the two, a reboot that kept /run)
  if ((known?.dns ?? dnsEntriesById()).has(c.ID)) return true;
  const merged = `${store.images.paths.cacheDir(c.MountID)}/merged`;
  if (known ? known.mounted.has(resolve(merged)) : isMountPoint(merged)) return true;
  return c.State.Status !== 'created' && (known ? known.cgroups().has(c.ID) : hasCgroup(c.ID));
}

/** With the run lock held: record the end of a container nobody runs any more, unmount it, remove its cgroup. */
export async function settleOne(store: ContainerStore, id: string, lock: FileLock): Promise<boolean> {
  const c = store.tryGet(id);
  if (!c) return false; // (tryRunLock saw it, and removal holds the lock)
  if (!unsettled(store, c)) return false;
  const hc = store.hostConfig(c.ID);
  if (hc.Runtime === 'runc') await cleanupRunc(c.ID);
  unmountRootfs(store.images.paths, c.MountID);
  const oom = await endCgroup(c.ID);
  // the veth, address, NAT and port rules and the netns go with the run (a failure is reported, the record still settled)
  const network = await disconnectContainer(c, hc.NetworkMode, store).catch((err: unknown) => {
    process.emitWarning(`container ${c.ID.slice(0, 12)}: releasing its network: ${(err as Error).message}`);
    return undefined;
  });
  if (network) c.NetworkSettings = network;
  // (a start never recorded that has ended needs no record: tryGet reads its end from the monitor's state)
  if (c.State.Running) {
    const m = store.monitorState(c.ID);
    const now = new Date().toISOString();
    const end =
      m?.Status === 'exited'
        ? {
            ExitCode: m.ExitCode,
            OOMKilled: m.OOMKilled || oom,
            FinishedAt: m.FinishedAt,
            StartedAt: m.StartedAt,
            Error: '',
          }
        : {
            ExitCode: 137,
            FinishedAt: now,
            Error: m ? "the container's monitor was killed" : 'berth was killed while running the container',
          };
    c.State = { ...c.State, ...end, Status: 'exited', Running: false, Restarting: false, Paused: false, Pid: 0 };
    if (m) c.RestartCount = m.RestartCount;
    await store.setState(c);
  }
  if (hc.AutoRemove) await store.remove(c, lock);
  return true;
}
