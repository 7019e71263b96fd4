import * as fsp from 'node:fs/promises';
import { notFound } from '../core/errors.js';
import { readOptional } from '../storage/fsutil.js';
import { READ_PARALLEL, parseOptional, pick, readDirOr, readOptionalAsync } from './store-read.js';
import { tryRunLock } from './run-lock.js';
import { CONTAINER_ID_RE, ContainerPaths, containerIds } from './store-paths.js';
import type { ContainerRecord, ContainerState, HostConfig, MonitorState } from './types.js';

/**
 * Reading container records: config.v2.json with what the monitor of a
 * detached container (state.json) and its health checks (health.json) wrote
 * since, listing, resolving by id, prefix or name. Nothing here writes.
 */
export class ContainerRecords extends ContainerPaths {
  list(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const n of containerIds(readDirOr(this.p.containers))) {
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
    const ids = containerIds(names);
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

  /** What the monitor of a detached container last wrote (pid, restarts, final exit), if anything. */
  monitorState(id: string): MonitorState | undefined {
    return parseOptional<MonitorState>(readOptional(this.statePath(id)));
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

  /** The container's HostConfig; NotFound once it is removed (also by another process since it was resolved). */
  hostConfig(id: string): HostConfig {
    const text = readOptional(`${this.dir(id)}/hostconfig.json`);
    if (text === undefined) throw notFound('container_not_found', `No such container: ${id}`);
    return JSON.parse(text) as HostConfig;
  }

  /** hostConfig through the thread pool; undefined once the container is removed. */
  async hostConfigAsync(id: string): Promise<HostConfig | undefined> {
    const text = await readOptionalAsync(`${this.dir(id)}/hostconfig.json`);
    return text === undefined ? undefined : (JSON.parse(text) as HostConfig);
  }

  /** By full id, unique id prefix, or name (with or without the leading slash). */
  resolve(ref: string): ContainerRecord {
    // a full id, as Docker looks it up first: one container read instead of all of them
    const exact = CONTAINER_ID_RE.test(ref) ? this.tryGet(ref) : undefined;
    return exact ?? pick(ref, this.list());
  }

  /** `resolve` without blocking the event loop (see listAsync). */
  async resolveAsync(ref: string): Promise<ContainerRecord> {
    const exact = CONTAINER_ID_RE.test(ref) ? await this.tryGetAsync(ref) : undefined;
    return exact ?? pick(ref, await this.listAsync());
  }
}
