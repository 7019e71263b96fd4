import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { resolve } from 'node:path';
import { randomHex } from '../storage/fsutil.js';
import { conflict, invalid, notFound } from '../core/errors.js';
import { chainIDs, type ImageID } from '../core/digest.js';
import { mkdirp, readOptional, removeAll, writeFileAtomic } from '../storage/fsutil.js';
import type { ImageStore } from '../image/store.js';
import type { ContainerConfig } from '../image/config.js';
import { createRwLayers, isMountPoint, mountPoints, unmountRootfs } from './rootfs.js';
import type { FileLock } from '../storage/lock.js';
import { READ_PARALLEL, parseOptional, pick, readDirOr, readOptionalAsync } from './store-read.js';
import { sweepRunLocks, tryRunLock, waitRunLock, type RunLockPlace } from './run-lock.js';
import { cleanupRunc } from '../runtime/runc.js';
import { cgroupIds, endCgroup, hasCgroup, removeEmptyCgroup } from './cgroup.js';
import { hostsFile, resolvConf } from './etc-files.js';
import { uniqueName } from './names.js';
import { checkUserSpec } from '../runtime/user.js';
import {
  type ContainerRecord,
  type ContainerState,
  type HostConfig,
  type MonitorState,
  createdState,
} from './types.js';

export interface CreateOptions {
  /** A container id chosen beforehand (64 hex digits), when work for it starts before it exists. */
  id?: string;
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  path: string;
  args: string[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * Containers: containers/<id>/{config.v2.json,hostconfig.json,hostname,hosts,
 * resolv.conf} and layerdb/mounts/<id>/{mount-id,init-id,parent}, with the init
 * and rw layers in overlay2/. Creation and removal are journaled like image work.
 */
export class ContainerStore {
  constructor(readonly images: ImageStore) {}

  private get p() {
    return this.images.paths;
  }

  dir(id: string): string {
    return `${this.p.containers}/${id}`;
  }

  list(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const n of this.ids(readDirOr(this.p.containers))) {
      const r = this.tryGet(n);
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * `list` without blocking the event loop: the files are read through the
   * thread pool, a few containers at a time, so that a long-lived process
   * serves other requests meanwhile.
   */
  async listAsync(): Promise<ContainerRecord[]> {
    let names: string[] = [];
    try {
      names = await fsp.readdir(this.p.containers);
    } catch {
      /* none */
    }
    const ids = this.ids(names);
    const out: Array<ContainerRecord | undefined> = new Array(ids.length);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const i = next++;
        out[i] = await this.tryGetAsync(ids[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_PARALLEL, ids.length) }, worker));
    return out.filter((r): r is ContainerRecord => !!r);
  }

  /** The container ids among a listing of containers/ (not the staging dirs of a create or rm: <id>.new, .rm-<id>). */
  private ids(names: string[]): string[] {
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  /** What the monitor of a detached container last wrote (pid, restarts, final exit), if anything. */
  monitorState(id: string): MonitorState | undefined {
    return parseOptional<MonitorState>(readOptional(this.statePath(id)));
  }

  statePath(id: string): string {
    return `${this.dir(id)}/state.json`;
  }
  stopMarker(id: string): string {
    return `${this.dir(id)}/stopping`;
  }
  logPath(id: string): string {
    return `${this.dir(id)}/${id}-json.log`;
  }
  healthPath(id: string): string {
    return `${this.dir(id)}/health.json`;
  }

  /** The stored record; for a running detached container, with the monitor's live pid and restart state. */
  tryGet(id: string): ContainerRecord | undefined {
    const r = parseOptional<ContainerRecord>(readOptional(`${this.dir(id)}/config.v2.json`));
    if (!r) return undefined;
    const more = this.needs(r);
    return this.merged(
      id,
      r,
      more.state ? this.monitorState(id) : undefined,
      more.health ? readOptional(this.healthPath(id)) : undefined,
    );
  }

  /** tryGet through the thread pool. */
  async tryGetAsync(id: string): Promise<ContainerRecord | undefined> {
    const r = parseOptional<ContainerRecord>(await readOptionalAsync(`${this.dir(id)}/config.v2.json`));
    if (!r) return undefined;
    const more = this.needs(r);
    const [state, health] = await Promise.all([
      more.state ? readOptionalAsync(this.statePath(id)) : undefined,
      more.health ? readOptionalAsync(this.healthPath(id)) : undefined,
    ]);
    return this.merged(id, r, parseOptional<MonitorState>(state), health);
  }

  /** Which files besides config.v2.json say more about the record: the monitor's state, the health log. */
  private needs(r: ContainerRecord): { state: boolean; health: boolean } {
    const test = r.Config.Healthcheck?.Test;
    return {
      state: r.State.Running || r.State.Status === 'created',
      health: !!test?.length && test[0] !== 'NONE',
    };
  }

  /** The record with what its monitor and health checks wrote since it was. */
  private merged(id: string, r: ContainerRecord, m: MonitorState | undefined, h: string | undefined): ContainerRecord {
    // a monitor's state is live, also when the berth that started it was killed before recording the start
    if (m && m.Status !== 'exited') {
      r.State = {
        ...r.State,
        Status: m.Status,
        Running: true,
        Restarting: m.Status === 'restarting',
        Pid: m.Pid,
        StartedAt: m.StartedAt,
        ...(m.Status === 'restarting' ? { ExitCode: m.ExitCode, FinishedAt: m.FinishedAt } : {}),
      };
      r.RestartCount = m.RestartCount;
      if (!r.LogPath) r.LogPath = this.logPath(id);
    } else if (m && r.State.Status === 'created') {
      // it ran and ended while the berth that started it had died before recording the start
      r.State = {
        ...r.State,
        Status: 'exited',
        ExitCode: m.ExitCode,
        OOMKilled: m.OOMKilled,
        StartedAt: m.StartedAt,
        FinishedAt: m.FinishedAt,
      };
      r.LogPath = r.LogPath ?? this.logPath(id);
    }
    if (this.needs(r).health) {
      try {
        if (h) r.State.Health = JSON.parse(h) as ContainerState['Health'];
      } catch {
        /* being replaced */
      }
      if (!r.State.Health && r.State.Running) r.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    }
    return r;
  }

  /** Whether a process (a foreground berth or a detached container's monitor) holds the container's run lock. */
  isLive(id: string): boolean {
    const l = tryRunLock(this.runLockPlace(id));
    if (l === 'busy') return true;
    l?.release();
    return false;
  }

  hostConfig(id: string): HostConfig {
    return JSON.parse(fs.readFileSync(`${this.dir(id)}/hostconfig.json`, 'utf8')) as HostConfig;
  }

  /** hostConfig through the thread pool; undefined once the container is removed. */
  async hostConfigAsync(id: string): Promise<HostConfig | undefined> {
    const text = await readOptionalAsync(`${this.dir(id)}/hostconfig.json`);
    return text === undefined ? undefined : (JSON.parse(text) as HostConfig);
  }

  /** By full id, unique id prefix, or name (with or without the leading slash). */
  resolve(ref: string): ContainerRecord {
    // a full id, as Docker looks it up first: one container read instead of all of them
    const exact = /^[0-9a-f]{64}$/.test(ref) ? this.tryGet(ref) : undefined;
    return exact ?? pick(ref, this.list());
  }

  /** `resolve` without blocking the event loop (see listAsync). */
  async resolveAsync(ref: string): Promise<ContainerRecord> {
    const exact = /^[0-9a-f]{64}$/.test(ref) ? await this.tryGetAsync(ref) : undefined;
    return exact ?? pick(ref, await this.listAsync());
  }

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
      },
      durable,
    );
  }

  /** `imageId` undefined: on no image at all (a build's `FROM scratch`). */
  async create(imageId: ImageID | undefined, opts: CreateOptions): Promise<ContainerRecord> {
    const images = this.images;
    const chain = imageId ? chainIDs(images.images.get(imageId).rootfs.diff_ids) : [];
    const id = opts.id ?? randomHex();
    if (!/^[0-9a-f]{64}$/.test(id)) throw invalid('invalid_id', `invalid container id ${JSON.stringify(id)}`);
    const mountId = randomHex();
    const given = opts.name;
    if (given !== undefined && !NAME_RE.test(given))
      throw invalid('invalid_name', `Invalid container name (${given}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    // a user the kernel must never be given is refused before anything is stored (a build's COPY container runs
    // nothing: Docker lets it be)
    if (opts.path) checkUserSpec(opts.config.User, opts.hostConfig.GroupAdd ?? []);
    return images.withTxn('create', async (txn) =>
      images.lock(() => {
        // names are checked and taken under the store lock: two creates cannot both take a free name
        const names = new Set(this.list().map((c) => c.Name));
        const name = given ?? uniqueName((n) => names.has(`/${n}`), id);
        if (given !== undefined && names.has(`/${name}`)) {
          throw conflict(
            'name_in_use',
            `Conflict. The container name "/${name}" is already in use by another container`,
          );
        }
        const top = chain.length ? images.layers.require(chain[chain.length - 1]!) : undefined;
        const dir = this.dir(id);
        // the container exists once containers/<id> does (the last rename): undo removes a layerdb/mounts/<id> without
        // it
        txn.add({ op: 'container', id });
        txn.add({ op: 'tmp', path: `${dir}.new` });
        txn.add({ op: 'tmp', path: `${this.p.mounts}/${id}.new` });
        createRwLayers(this.p, txn, top, mountId);
        const hostname = opts.config.Hostname || id.slice(0, 12);
        const stage = `${dir}.new`;
        mkdirp(stage, 0o710);
        const record: ContainerRecord = {
          ID: id,
          Created: new Date().toISOString(),
          Path: opts.path,
          Args: opts.args,
          Config: { ...opts.config, Hostname: hostname, Image: opts.config.Image },
          Image: imageId ?? '',
          Name: `/${name}`,
          Driver: 'overlay2',
          State: createdState(),
          HostnamePath: `${dir}/hostname`,
          HostsPath: `${dir}/hosts`,
          ResolvConfPath: `${dir}/resolv.conf`,
          MountID: mountId,
        };
        fs.writeFileSync(`${stage}/config.v2.json`, JSON.stringify(record), { mode: 0o600 });
        fs.writeFileSync(`${stage}/hostconfig.json`, JSON.stringify(opts.hostConfig), { mode: 0o600 });
        fs.writeFileSync(`${stage}/hostname`, `${hostname}\n`, { mode: 0o644 });
        fs.writeFileSync(`${stage}/hosts`, hostsFile(hostname, opts.hostConfig.NetworkMode), { mode: 0o644 });
        fs.writeFileSync(`${stage}/resolv.conf`, resolvConf(opts.hostConfig.NetworkMode), { mode: 0o644 });
        const mstage = `${this.p.mounts}/${id}.new`;
        mkdirp(mstage, 0o700);
        fs.writeFileSync(`${mstage}/mount-id`, mountId);
        fs.writeFileSync(`${mstage}/init-id`, `${mountId}-init`);
        if (top) fs.writeFileSync(`${mstage}/parent`, top.chainID);
        fs.renameSync(mstage, `${this.p.mounts}/${id}`);
        fs.renameSync(stage, dir);
        return record;
      }),
    );
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
    const n = name.replace(/^\//, '');
    if (!NAME_RE.test(n))
      throw invalid('invalid_name', `Invalid container name (${n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
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
  async remove(r: ContainerRecord, runLock?: FileLock): Promise<void> {
    const lock =
      runLock ??
      (await this.waitRunLock(r, () =>
        conflict(
          'container_running',
          `You cannot remove a running container ${r.ID}. Stop the container before attempting removal or force remove`,
        ),
      ));
    try {
      await this.removeLocked(r);
    } catch (err) {
      if (!runLock) lock.release();
      throw err;
    }
    lock.remove();
  }

  private async removeLocked(r: ContainerRecord): Promise<void> {
    const images = this.images;
    if (this.hostConfig(r.ID).Runtime === 'runc') await cleanupRunc(r.ID); // runc state and bundle, if a killed berth left them
    // a cgroup left by a start whose end was never settled: nothing else would remove it once the record is gone
    // (empty: the container is stopped; one still in use is left for the clean-up of its monitor)
    await removeEmptyCgroup(r.ID);
    await images.withTxn('rm', async (txn) =>
      images.lock(() => {
        unmountRootfs(this.p, r.MountID);
        const gone = `${this.p.containers}/.rm-${r.ID}`;
        txn.add({ op: 'container', id: r.ID });
        txn.add({ op: 'tmp', path: gone });
        txn.add({ op: 'tmp', path: `${this.p.mounts}/.rm-${r.ID}` });
        for (const id of [r.MountID, `${r.MountID}-init`]) {
          const link = readOptional(`${this.p.cacheDir(id)}/link`);
          txn.add({ op: 'layer-dir', cacheId: id, link: link ?? '' });
        }
        // unregister first (atomic renames: the container dir first, so that from then on recovery finishes the
        // removal), then delete
        if (fs.existsSync(this.dir(r.ID))) fs.renameSync(this.dir(r.ID), gone);
        if (fs.existsSync(`${this.p.mounts}/${r.ID}`))
          fs.renameSync(`${this.p.mounts}/${r.ID}`, `${this.p.mounts}/.rm-${r.ID}`);
        for (const id of [r.MountID, `${r.MountID}-init`])
          images.layers.removeCacheDir(id, readOptional(`${this.p.cacheDir(id)}/link`));
        removeAll(gone);
        removeAll(`${this.p.mounts}/.rm-${r.ID}`);
      }),
    );
  }

  /** The lock a berth process holds while it runs the container (the kernel drops it if berth dies). */
  lockPath(id: string): string {
    return `${this.p.locks}/ctr-${id}`;
  }

  private runLockPlace(id: string): RunLockPlace {
    return { path: this.lockPath(id), dir: this.dir(id) };
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
    const fixed: ContainerRecord[] = [];
    const list = known ?? (await this.listAsync());
    sweepRunLocks(this.p.locks, (id) => this.runLockPlace(id), new Set(list.map((c) => c.ID)));
    if (list.length === 0) return fixed;
    // what many containers are checked against is read once: the mount table, the cgroup dirs
    const mounted = mountPoints();
    let cgroups: Set<string> | undefined;
    for (const c of list) {
      if (!this.unsettled(c, { mounted, cgroups: () => (cgroups ??= cgroupIds()) })) continue;
      const lock = tryRunLock(this.runLockPlace(c.ID));
      if (!lock || lock === 'busy') continue; // a live berth process or monitor runs it (or it was just removed)
      try {
        if (await this.settle(c.ID, lock)) fixed.push(c);
      } finally {
        lock.release();
      }
    }
    return fixed;
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
      if (/^[0-9a-f]{64}$/.test(id)) await removeEmptyCgroup(id);
      return;
    }
    try {
      await this.settle(id, lock);
    } finally {
      lock.release();
    }
  }

  /**
   * Whether the run whose monitor had this pid is the container's latest: a
   * detached start replaces state.json (before its monitor runs, under the run
   * lock), a foreground one records a StartedAt after that run's end.
   */
  private isLatestRun(id: string, monitorPid: number): boolean {
    const m = this.monitorState(id);
    if (m?.Status !== 'exited' || m.MonitorPid !== monitorPid) return false;
    const c = this.tryGet(id);
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
  private unsettled(c: ContainerRecord, known?: { mounted: Set<string>; cgroups: () => Set<string> }): boolean {
    if (c.State.Running) return true;
    const merged = `${this.p.cacheDir(c.MountID)}/merged`;
    if (known ? known.mounted.has(resolve(merged)) : isMountPoint(merged)) return true;
    return c.State.Status !== 'created' && (known ? known.cgroups().has(c.ID) : hasCgroup(c.ID));
  }

  /** With the run lock held: record the end of a container nobody runs any more, unmount it, remove its cgroup. */
  private async settle(id: string, lock: FileLock): Promise<boolean> {
    const c = this.tryGet(id);
    if (!c) return false; // (tryRunLock saw it, and removal holds the lock)
    if (!this.unsettled(c)) return false;
    const hc = this.hostConfig(c.ID);
    if (hc.Runtime === 'runc') await cleanupRunc(c.ID);
    unmountRootfs(this.p, c.MountID);
    const oom = await endCgroup(c.ID);
    // (a start never recorded that has ended needs no record: tryGet reads its end from the monitor's state)
    if (c.State.Running) {
      const m = this.monitorState(c.ID);
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
      await this.setState(c);
    }
    if (hc.AutoRemove) await this.remove(c, lock);
    return true;
  }
}

function alreadyRunning(c: ContainerRecord): Error {
  return conflict('already_running', `container ${c.ID.slice(0, 12)} is already running`);
}

function gone(c: ContainerRecord): Error {
  return notFound('container_not_found', `No such container: ${c.ID}`);
}
