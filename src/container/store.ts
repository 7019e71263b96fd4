import { conflict, notFound } from '../core/errors.js';
import { disconnectId } from './network.js';
import type { DnsSettings } from './etc-files.js';
import type { ImageID } from '../core/digest.js';
import { readOptional, writeFileAtomic } from '../storage/fsutil.js';
import type { FileLock } from '../storage/lock.js';
import { tryRunLock, waitRunLock } from './run-lock.js';
import { removeEmptyCgroup } from './cgroup.js';
import { ContainerRecords } from './store-records.js';
import { checkName, createContainer, removeContainerFiles, type CreateOptions } from './store-write.js';
import { isLatestRun, reapStale, settleOne } from './store-settle.js';
import type { ContainerRecord, HostConfig } from './types.js';
import { anonymousVolumes, usesVolume } from './mounts.js';

export type { CreateOptions } from './store-write.js';

/**
 * Containers: containers/<id>/{config.v2.json,hostconfig.json,hostname,hosts,
 * resolv.conf} and layerdb/mounts/<id>/{mount-id,init-id,parent}, with the init
 * and rw layers in overlay2/. Creation and removal are journaled like image work;
 * every record write goes through `update`, under the store lock. Paths are in
 * store-paths.ts, reads in store-records.ts, creation and removal in
 * store-write.ts, settling in store-settle.ts.
 */
export class ContainerStore extends ContainerRecords {
  /** daemon.json's host-gateway-ip: what `--add-host NAME:host-gateway` names (unset: the bridge's gateway). */
  hostGatewayIP?: string;
  /** daemon.json's dns, dns-search, dns-opts: each for containers that give none of its kind. */
  daemonDns?: DnsSettings;

  /**
   * Record how a run is going: `c`'s State and LogPath replace the stored ones under the store lock, and the rest of
   * the stored record stays as it is (a rename made meanwhile by another request or process is kept). `durable:
   * false` skips the fsync: a --rm container's state outlives no power loss anyway.
   */
  async setState(c: ContainerRecord, durable = true): Promise<ContainerRecord> {
    return this.update(
      c.ID,
      (r) => {
        r.State = c.State;
        if (c.LogPath) r.LogPath = c.LogPath;
        if (c.RestartCount !== undefined) r.RestartCount = c.RestartCount;
        if (c.NetworkSettings !== undefined) r.NetworkSettings = c.NetworkSettings;
      },
      durable,
    );
  }

  /** `imageId` undefined: on no image at all (a build's `FROM scratch`). */
  async create(imageId: ImageID | undefined, opts: CreateOptions): Promise<ContainerRecord> {
    return createContainer(this, imageId, opts);
  }

  /**
   * Change a container's stored record under the store lock (read, change, write: no lost updates between berth
   * processes).
   */
  async update(id: string, fn: (r: ContainerRecord, hc: HostConfig) => void, durable = true): Promise<ContainerRecord> {
    return this.images.lock(() => {
      const text = readOptional(`${this.dir(id)}/config.v2.json`);
      if (text === undefined) throw notFound('container_not_found', `No such container: ${id}`);
      const r = JSON.parse(text) as ContainerRecord;
      const hc = this.hostConfig(id);
      const before = JSON.stringify(hc);
      fn(r, hc);
      writeFileAtomic(`${this.dir(id)}/config.v2.json`, JSON.stringify(r), 0o600, durable);
      if (JSON.stringify(hc) !== before) writeFileAtomic(`${this.dir(id)}/hostconfig.json`, JSON.stringify(hc), 0o600);
      return r;
    });
  }

  /**
   * The stopped containers that `pick` chooses, chosen under the store lock (no create, rename or state change
   * interleaves), each with its run lock held: none of them can be started until the caller removes or releases it.
   * One that runs, or whose run lock another process holds, is not chosen.
   */
  async claimStopped(
    pick: (c: ContainerRecord) => boolean,
  ): Promise<Array<{ record: ContainerRecord; runLock: FileLock }>> {
    return this.images.lock(() => {
      const out: Array<{ record: ContainerRecord; runLock: FileLock }> = [];
      for (const c of this.list()) {
        if (c.State.Running || !pick(c)) continue;
        const runLock = tryRunLock(this.runLockPlace(c.ID));
        if (!runLock || runLock === 'busy') continue;
        out.push({ record: c, runLock });
      }
      return out;
    });
  }

  /** `docker rename`: names are unique; the store lock (in update) makes the check and the write one step. */
  async rename(c: ContainerRecord, name: string): Promise<void> {
    const n = checkName(name.replace(/^\//, ''));
    await this.update(c.ID, (r) => {
      const other = this.list().find((x) => x.Name === `/${n}`);
      if (other && other.ID !== c.ID)
        throw conflict(
          'name_in_use',
          `Conflict. The container name "/${n}" is already in use by container "${other.ID}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      r.Name = `/${n}`;
    });
  }

  /**
   * Remove a stopped container: unmount, delete its layers, mounts record and
   * directory, its cgroup if one is left, and last its run lock file. Holds the
   * run lock throughout (`runLock`: the caller already does), so the container
   * cannot be started meanwhile.
   */
  async remove(r: ContainerRecord, runLock?: FileLock, opts: { volumes?: boolean } = {}): Promise<void> {
    const volumes = opts.volumes ?? this.hostConfig(r.ID).AutoRemove;
    const lock =
      runLock ??
      (await this.waitRunLock(r, () =>
        conflict(
          'container_running',
          `You cannot remove a running container ${r.ID}. Stop the container before attempting removal or force remove`,
        ),
      ));
    try {
      await disconnectId(r.ID); // a network a killed run left (settling releases it otherwise)
      await removeContainerFiles(this, r);
    } catch (err) {
      if (!runLock) lock.release();
      throw err;
    }
    lock.remove();
    if (volumes) await this.removeAnonymousVolumes(r);
  }

  /**
   * `rm -v` and `--rm`: the anonymous volumes the container made go with it, unless another
   * container uses one too (`--volumes-from`); named volumes stay, as Docker's.
   */
  private async removeAnonymousVolumes(r: ContainerRecord): Promise<void> {
    const names = anonymousVolumes(r);
    if (!names.length) return;
    await this.images.lock(() => {
      const others = this.list();
      for (const n of names) if (this.volumes.get(n) && !others.some((c) => usesVolume(c, n))) this.volumes.remove(n);
    });
  }

  /** Hold the container's run lock; Conflict if another berth process is running it. */
  lockForRun(c: ContainerRecord): FileLock {
    const l = tryRunLock(this.runLockPlace(c.ID));
    if (l === 'busy') throw alreadyRunning(c);
    if (!l) throw gone(c);
    return l;
  }

  /**
   * The run lock for a start: lockForRun, but a holder that lets go within a
   * moment (a probe of another berth command, the clean-up of the run that
   * just ended) is waited for.
   */
  async lockForStart(c: ContainerRecord): Promise<FileLock> {
    return this.waitRunLock(c, () => alreadyRunning(c));
  }

  private async waitRunLock(c: ContainerRecord, busy: () => Error): Promise<FileLock> {
    const l = await waitRunLock(this.runLockPlace(c.ID), 2000);
    if (l === 'busy') throw busy();
    if (!l) throw gone(c);
    return l;
  }

  /**
   * Bring records up to date with what happened while no berth watched: a
   * detached container that exited (its monitor's final state), a foreground
   * container whose berth was killed (kill -9), a monitor that was killed.
   * Nobody holds the run lock of such a container, yet it is marked running or
   * still mounted: record how it ended, unmount, remove it if it was --rm.
   * `known`: the containers as just listed, to spare a second read of them.
   */
  async reapStale(known?: ContainerRecord[]): Promise<ContainerRecord[]> {
    return reapStale(this, known);
  }

  /**
   * Settle one container once its run lock is free. Without `endedRun`, waits
   * for the lock however long it is held. With it, this is the clean-up a
   * detached container's monitor execs when the container is done for good
   * (the monitor's pid is this process's): the lock is waited for only while
   * that run is still the container's latest, so the clean-up of a run that a
   * `restart` or `start` followed ends at once instead of waiting for the new run
   * to end (its starter settled the old run first; the new one gets its own clean-up).
   */
  async cleanup(id: string, endedRun?: { monitorPid: number }, signal?: AbortSignal): Promise<void> {
    // woken by the lock's release, or (for `endedRun`) by a later start writing in the container's directory
    const lock = await waitRunLock(this.runLockPlace(id), Infinity, {
      signal,
      ...(endedRun && { giveUp: () => !this.isLatestRun(id, endedRun.monitorPid), wakeOn: [this.dir(id)] }),
    });
    if (lock === 'busy') return; // a later run holds it
    if (!lock) {
      // removed meanwhile (`rm -f` before its monitor's clean-up ran): its cgroup is all that may be left
      if (/^[0-9a-f]{64}$/.test(id)) {
        await removeEmptyCgroup(id);
        await disconnectId(id);
      }
      return;
    }
    try {
      await this.settle(id, lock);
    } finally {
      lock.release();
    }
  }

  /** See store-settle.ts. */
  private isLatestRun(id: string, monitorPid: number): boolean {
    return isLatestRun(this, id, monitorPid);
  }

  /** With the run lock held: record the end of a container nobody runs any more, unmount it, remove its cgroup. */
  private async settle(id: string, lock: FileLock): Promise<boolean> {
    return settleOne(this, id, lock);
  }
}

function alreadyRunning(c: ContainerRecord): Error {
  return conflict('already_running', `container ${c.ID.slice(0, 12)} is already running`);
}

function gone(c: ContainerRecord): Error {
  return notFound('container_not_found', `No such container: ${c.ID}`);
}
