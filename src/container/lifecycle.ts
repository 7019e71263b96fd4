import * as fs from 'node:fs';
import { constants } from 'node:os';
import { aborted, conflict, invalid } from '../core/errors.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';
import { findCgroup } from './cgroup.js';
import { isLogFile, until } from './dir-watch.js';
import { freeze, thaw } from '../runtime/cgroups/cgroups.js';

/**
 * Stop, kill and wait for containers without a daemon. A container runs while
 * some process holds its run lock: the foreground berth that started it, or
 * the monitor of a detached one. Its end is recorded by `settle` (store.ts)
 * once the lock is free, so waiting means: wait for the lock, then settle.
 */

/** A signal by name ("TERM", "SIGTERM", "sigkill") or number, as `docker kill -s` takes it. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw invalid('invalid_signal', `invalid signal: ${s}`);
    return n;
  }
  const up = s.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw invalid('invalid_signal', `invalid signal: ${s}`);
  return n;
}

function running(containers: ContainerStore, c: ContainerRecord): ContainerRecord {
  const now = containers.tryGet(c.ID) ?? c;
  if (!now.State.Running || !containers.isLive(c.ID))
    throw conflict('not_running', `container ${c.ID.slice(0, 12)} is not running`);
  return now;
}

/** `docker kill`: the signal, then thaw a paused container so it is delivered. */
export async function killAndThaw(
  containers: ContainerStore,
  c: ContainerRecord,
  signal: number,
  opts: { noRestart?: boolean } = {},
): Promise<void> {
  killContainer(containers, c, signal, opts);
  await thawIfPaused(containers, c);
}

/** Send a signal to the container's main process. */
export function killContainer(
  containers: ContainerStore,
  c: ContainerRecord,
  signal: number,
  opts: { noRestart?: boolean } = {},
): void {
  const now = running(containers, c);
  // a user's kill or stop ends the container for good: the monitor reads the marker before a restart
  if (opts.noRestart) fs.writeFileSync(containers.stopMarker(c.ID), '');
  if (now.State.Restarting || !now.State.Pid) return;
  try {
    process.kill(now.State.Pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** A paused container gets the signal once thawed (as Docker: stop and kill work on paused containers). */
async function thawIfPaused(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  if (!(containers.tryGet(c.ID) ?? c).State.Paused) return;
  const cg = findCgroup(c.ID);
  if (cg) await thaw(cg);
  await containers.update(c.ID, (r) => {
    r.State.Paused = false;
  });
}

/**
 * Wait until nobody runs the container any more, then bring its record up to
 * date. Its exit code (also for a --rm container, removed meanwhile), or
 * undefined on timeout. An abort of `signal` rejects (BerthError, code 'aborted').
 */
export async function waitStopped(
  containers: ContainerStore,
  id: string,
  timeoutMs = Infinity,
  signal?: AbortSignal,
): Promise<number | undefined> {
  let last = containers.monitorState(id)?.ExitCode ?? containers.tryGet(id)?.State.ExitCode ?? 0;
  const ended = await until(
    containers.dir(id),
    () => {
      const m = containers.monitorState(id);
      if (m?.Status === 'exited') last = m.ExitCode;
      return containers.isLive(id) ? undefined : true;
    },
    { timeoutMs, ignore: isLogFile, signal },
  );
  if (signal?.aborted) throw aborted(`wait for container ${id.slice(0, 12)}`, signal);
  if (!ended) return undefined;
  if (!containers.tryGet(id)) return last;
  // settle it whatever its record says (also a start whose berth was killed before recording it): unmount, cgroup
  await containers.cleanup(id, undefined, signal);
  return containers.tryGet(id)?.State.ExitCode ?? containers.monitorState(id)?.ExitCode ?? last;
}

/**
 * A container whose run lock is held although its record does not say it runs
 * is being started: by a berth that has not recorded the start yet (or was
 * killed before it could), while its monitor is about to write its state. The
 * record as soon as it runs or nobody holds the lock any more; undefined on timeout.
 */
export async function waitStarting(
  containers: ContainerStore,
  c: ContainerRecord,
  timeoutMs = 10_000,
): Promise<ContainerRecord | undefined> {
  return until(
    containers.dir(c.ID),
    () => {
      const now = containers.tryGet(c.ID);
      return !now || now.State.Running || !containers.isLive(c.ID) ? (now ?? c) : undefined;
    },
    { timeoutMs, ignore: isLogFile },
  );
}

/**
 * `docker stop`: the stop signal (--signal, else the container's StopSignal,
 * else SIGTERM), then SIGKILL after the timeout (-t, else the container's
 * StopTimeout, else 10 s). A stopped container is never restarted by its policy.
 */
export async function stopContainer(
  containers: ContainerStore,
  c: ContainerRecord,
  opts: { timeout?: number; signal?: string } = {},
): Promise<void> {
  const now = containers.tryGet(c.ID) ?? c;
  if (!now.State.Running || !containers.isLive(c.ID)) {
    await containers.reapStale();
    return;
  }
  const sig = parseSignal(opts.signal ?? now.Config.StopSignal ?? 'SIGTERM');
  const timeout = opts.timeout ?? now.Config.StopTimeout ?? 10;
  try {
    killContainer(containers, now, sig, { noRestart: true });
    await thawIfPaused(containers, now);
  } catch (err) {
    if ((err as { code?: string }).code !== 'not_running') throw err;
  }
  if (timeout >= 0 && (await waitStopped(containers, c.ID, timeout * 1000)) !== undefined) return;
  try {
    killContainer(containers, now, constants.signals.SIGKILL, { noRestart: true });
  } catch {
    /* it ended meanwhile */
  }
  await waitStopped(containers, c.ID);
}

/** `docker wait`: block until the container stops; its exit code. */
export async function waitContainer(containers: ContainerStore, c: ContainerRecord): Promise<number> {
  return (await waitStopped(containers, c.ID)) ?? c.State.ExitCode;
}

/** `docker pause`: freeze every process of the container (the freezer cgroup). */
export async function pauseContainer(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const now = running(containers, c);
  if (now.State.Paused) throw conflict('already_paused', `container ${c.ID.slice(0, 12)} is already paused`);
  const cg = findCgroup(c.ID);
  if (!cg) throw conflict('no_cgroup', `container ${c.ID.slice(0, 12)} has no cgroup to freeze`);
  await freeze(cg);
  await containers.update(c.ID, (r) => {
    r.State.Paused = true;
  });
}

/** `docker unpause`. */
export async function unpauseContainer(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const now = running(containers, c);
  if (!now.State.Paused) throw conflict('not_paused', `container ${c.ID.slice(0, 12)} is not paused`);
  const cg = findCgroup(c.ID);
  if (cg) await thaw(cg);
  await containers.update(c.ID, (r) => {
    r.State.Paused = false;
  });
}
