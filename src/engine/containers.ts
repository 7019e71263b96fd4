import type { Readable } from 'node:stream';
import type * as io from './container-io.js';
import type * as ioArchive from './container-io-archive.js';
import type * as ioExec from './container-io-exec.js';
import type * as ioStreams from './container-io-streams.js';
import type * as run from './container-run.js';
import { aborted, conflict, notFound } from '../core/errors.js';
import { addFilter, type Filters } from '../core/filters.js';
import type { ContainerStore } from '../container/store.js';
import type { ContainerRecord, MonitorState } from '../container/types.js';
import { inspectContainer } from '../container/inspect.js';
import { isLogFile, until } from '../container/dir-watch.js';
import { containerPrunePlan } from '../container/prune.js';
import type { Engine } from './engine.js';
import { planCreate, type CreatePlan } from './container-create.js';
import { joinedName } from '../container/network.js';
import { listContainers } from './container-list.js';
import type {
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerListOptions,
  ContainerPruneResponse,
  ContainerSummary,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  FilterMap,
  RemoveOptions,
  StopOptions,
  UpdateConfig,
  WaitCondition,
} from './container-types.js';

// What changes or runs containers is imported on first use: the CLI's read-only commands (ps, inspect) start with
// the listing and inspecting modules only. (Synchronous operations import theirs statically: plan, checkPruneFilters.)
const lifecycle = () => import('../container/lifecycle.js');
const containerRun = () => import('../container/run.js');
const cgroups = () =>
  Promise.all([
    import('../container/cgroup.js'),
    import('../runtime/cgroups/cgroups.js'),
    import('./container-validate.js'),
  ]);
const ioModule = () => import('./container-io.js');
const ioArchiveModule = () => import('./container-io-archive.js');
const ioStreamsModule = () => import('./container-io-streams.js');
const runModule = () => import('./container-run.js');
/** container-io-exec.ts once an exec was created or started (execInspect is synchronous: before, no exec exists). */
let ioExecLoaded: typeof ioExec | undefined;
const ioExecModule = async () => (ioExecLoaded ??= await import('./container-io-exec.js'));

function filtersOf(map: FilterMap = {}): Filters {
  const filters: Filters = new Map();
  for (const [k, values] of Object.entries(map)) for (const v of values) addFilter(filters, k, v);
  return filters;
}

/** Refuse what prune's filters cannot mean before anything is looked at (for a caller that asks the user first). */
export function checkPruneFilters(filters?: FilterMap): void {
  containerPrunePlan(filtersOf(filters));
}

/**
 * Container operations (Docker Engine API /containers/...). Each takes a
 * container by full ID, unique ID prefix or name, settles what stopped
 * containers left (monitors that died, `--rm` containers to remove) before it
 * looks at state, and throws BerthErrors (NotFound for an unknown container).
 */
export class Containers {
  constructor(readonly engine: Engine) {}

  private get store(): ContainerStore {
    return this.engine.containerStore;
  }

  /**
   * Record the end of containers whose run ended without it (a killed berth or monitor), as dockerd on restore; the
   * IDs of those it settled.
   */
  async settle(): Promise<string[]> {
    return (await this.store.reapStale(this.engine.blockingReads ? this.store.list() : undefined)).map((c) => c.ID);
  }

  private async find(idOrName: string): Promise<ContainerRecord> {
    await this.settle();
    return this.engine.blockingReads ? this.store.resolve(idOrName) : this.store.resolveAsync(idOrName);
  }

  /**
   * Check a create request and merge the image's config into it, without
   * creating anything: for callers that start work for the container (its
   * cgroup, its helper) while its layers are made.
   */
  plan(req: ContainerCreateRequest): CreatePlan {
    const plan = planCreate(this.engine.store, req);
    // `container:NAME|ID` names a container that exists (it must also run when this one starts)
    const joined = joinedName(plan.opts.hostConfig.NetworkMode);
    if (joined !== undefined) this.store.resolve(joined);
    return plan;
  }

  /** POST /containers/create. `id`: one chosen beforehand (64 hex digits) for work already started for it. */
  async create(req: ContainerCreateRequest | CreatePlan, id?: string): Promise<ContainerCreateResponse> {
    const plan = 'opts' in req ? req : this.plan(req);
    const c = await this.store.create(plan.imageId, { ...plan.opts, ...(id ? { id } : {}) });
    this.engine.events.container('create', c);
    return { Id: c.ID, Warnings: plan.warnings };
  }

  /** GET /containers/json. */
  async list(opts: ContainerListOptions = {}): Promise<ContainerSummary[]> {
    // one read of every container serves both the settling and the listing, unless settling changed some
    const blocking = this.engine.blockingReads;
    const read = () => (blocking ? this.store.list() : this.store.listAsync());
    const all = await read();
    const fixed = await this.store.reapStale(all);
    return listContainers(this.store, opts, fixed.length ? await read() : all, blocking);
  }

  /** GET /containers/{id}/json: what `docker container inspect` prints. */
  async inspect(idOrName: string): Promise<Record<string, unknown>> {
    const c = await this.find(idOrName);
    const out = inspectContainer(this.store, c);
    // (no exec was made by this engine unless its module is loaded)
    const execs = ioExecLoaded?.execIdsOf(this.engine, c.ID) ?? [];
    if (execs.length) out.ExecIDs = execs;
    return out;
  }

  /** POST /containers/{id}/start, detached (its monitor keeps it); a running container is left as it is. */
  async start(idOrName: string): Promise<void> {
    const c = await this.find(idOrName);
    if (c.State.Running) return;
    const { startDetached } = await containerRun();
    await startDetached(this.store, c).catch(async (err) => {
      await this.autoRemove(c.ID);
      throw err;
    });
  }

  /** POST /containers/{id}/stop: the stop signal, then SIGKILL after `t` seconds; never restarted by its policy. */
  async stop(idOrName: string, opts: StopOptions = {}): Promise<void> {
    const c = await this.find(idOrName);
    const { stopContainer, parseSignal } = await lifecycle();
    const wasRunning = c.State.Running;
    // as dockerd: kill (the stop signal), then the monitor's die, then stop
    if (wasRunning)
      this.engine.events.container('kill', c, {
        signal: String(parseSignal(opts.signal ?? c.Config.StopSignal ?? 'SIGTERM')),
      });
    await stopContainer(this.store, c, { timeout: opts.t, signal: opts.signal });
    if (wasRunning) this.engine.events.container('stop', c);
  }

  /** POST /containers/{id}/kill (default SIGKILL, which also ends it for good, as dockerd: no restart). */
  async kill(idOrName: string, signal: string | number = 'KILL'): Promise<void> {
    const c = await this.find(idOrName);
    const { killAndThaw, parseSignal } = await lifecycle();
    const sig = typeof signal === 'number' ? signal : parseSignal(signal);
    await killAndThaw(this.store, c, sig, { noRestart: sig === 9 });
    this.engine.events.container('kill', c, { signal: String(sig) });
  }

  /** POST /containers/{id}/restart: stop (as `stop`), then start detached. */
  async restart(idOrName: string, opts: StopOptions = {}): Promise<void> {
    const c = await this.find(idOrName);
    const [{ stopContainer }, { startDetached }] = await Promise.all([lifecycle(), containerRun()]);
    await stopContainer(this.store, c, { timeout: opts.t, signal: opts.signal });
    if (c.State.Running) this.engine.events.container('stop', c);
    const now = this.store.tryGet(c.ID);
    if (!now) throw conflict('removed', `container ${c.ID.slice(0, 12)} was removed when it stopped (--rm)`);
    await startDetached(this.store, now); // its monitor writes the start
    this.engine.events.container('restart', now);
  }

  /**
   * POST /containers/{id}/wait. not-running: until it is not running (at
   * once if it is not); next-exit: until its next run ends (waiting for it to
   * start first); removed: until it is not running and removed. An abort of
   * `signal` rejects (BerthError Unavailable, code 'aborted'); the container goes on.
   */
  async wait(
    idOrName: string,
    opts: { condition?: WaitCondition; signal?: AbortSignal } = {},
  ): Promise<ContainerWaitResponse> {
    const c = await this.find(idOrName);
    const { waitStopped } = await lifecycle();
    const condition = opts.condition ?? 'not-running';
    const signal = opts.signal;
    const check = () => {
      if (signal?.aborted) throw aborted(`wait for container ${c.ID.slice(0, 12)}`, signal);
    };
    // as dockerd: the exit code with the State's Error, if any (a start that failed, a run whose berth or
    // monitor was killed); an aborted wait rejects (a caller that went away reads no answer)
    const answer = (code: number): ContainerWaitResponse => {
      const error = this.store.tryGet(c.ID)?.State.Error ?? c.State.Error;
      return { StatusCode: code, ...(error ? { Error: { Message: error } } : {}) };
    };
    check();
    if (condition === 'next-exit') {
      const ended = await this.waitRunEnd(c, signal);
      check();
      if (ended !== undefined) return answer(ended);
    }
    const code = (await waitStopped(this.store, c.ID, Infinity, signal)) ?? c.State.ExitCode;
    if (condition === 'removed')
      await until(this.store.dir(c.ID), () => (this.store.tryGet(c.ID) ? undefined : true), {
        ignore: isLogFile,
        signal,
      });
    check();
    return answer(code);
  }

  /**
   * Until the container's current or next run ends: its exit code when the
   * monitor restarts it (by its policy) or when --rm removed it as it ended,
   * undefined when the monitor ends (the caller waits for the settled state).
   */
  private async waitRunEnd(c: ContainerRecord, signal?: AbortSignal): Promise<number | undefined> {
    const id = c.ID;
    const watch = { ignore: isLogFile, signal };
    const dir = this.store.dir(id);
    // a run that ended before it was settled is not the next one: wait for the next start
    await until(
      dir,
      () => {
        const now = this.store.tryGet(id);
        return !now || this.store.isLive(id) || now.State.StartedAt !== c.State.StartedAt ? true : undefined;
      },
      watch,
    );
    let run: MonitorState | undefined; // the run to see end: the first one seen running
    let ended: number | undefined; // its end as the monitor wrote it: all that is left once --rm removed it
    return until(
      dir,
      () => {
        const m = this.store.monitorState(id);
        if (m?.Status === 'exited') ended = m.ExitCode;
        if (!this.store.isLive(id)) return { code: this.store.tryGet(id) ? undefined : ended };
        if (!run || run.Status !== 'running') run = m;
        // a restart by its policy ends the run; the last end is the settled one (the caller waits for it)
        else if (m && m.Status !== 'exited' && (m.Status !== 'running' || m.RestartCount !== run.RestartCount))
          return { code: m.ExitCode };
        return undefined;
      },
      watch,
    ).then((r) => r?.code);
  }

  /** DELETE /containers/{id}: a running container only with `force` (killed first). */
  async remove(idOrName: string, opts: RemoveOptions = {}): Promise<void> {
    let c = await this.find(idOrName);
    const { killAndThaw, waitStarting, waitStopped } = await lifecycle();
    const running = () =>
      conflict(
        'container_running',
        `You cannot remove a running container ${c.ID}. Stop the container before attempting removal or force remove`,
      );
    if (!c.State.Running && this.store.isLive(c.ID)) {
      // its run lock is held although it does not run: being started (see waitStarting), or its ended run being
      // cleaned up (its monitor's clean-up holds the lock a moment after a `wait` has returned): wait to see which;
      // one that runs then is refused without force, as a running one
      const now = await waitStarting(this.store, c);
      if (!now) throw conflict('container_starting', `container ${c.ID.slice(0, 12)} is still being started`);
      c = now;
    }
    if (c.State.Running) {
      if (!opts.force) throw running();
      try {
        await killAndThaw(this.store, c, 9, { noRestart: true });
      } catch {
        /* it ended meanwhile */
      }
      await waitStopped(this.store, c.ID);
    }
    const now = this.store.tryGet(c.ID);
    if (now) {
      await this.store.remove(now, undefined, opts.v ? { volumes: true } : {});
      this.engine.events.container('destroy', now);
    }
  }

  /** What the engine does once a container ran in the foreground: AutoRemove removes it. */
  async autoRemove(id: string): Promise<void> {
    const c = this.store.tryGet(id);
    if (c && this.store.hostConfig(id).AutoRemove) {
      await this.store.remove(c);
      this.engine.events.container('destroy', c);
    }
  }

  /** POST /containers/{id}/rename: names are unique (Conflict otherwise). */
  async rename(idOrName: string, name: string): Promise<void> {
    const c = await this.find(idOrName);
    const oldName = c.Name.replace(/^\//, '');
    await this.store.rename(c, name);
    this.engine.events.container('rename', { ...c, Name: name }, { oldName });
  }

  /** POST /containers/{id}/pause: freeze its cgroup. */
  async pause(idOrName: string): Promise<void> {
    const c = await this.find(idOrName);
    const { pauseContainer } = await lifecycle();
    await pauseContainer(this.store, c);
    this.engine.events.container('pause', c);
  }

  async unpause(idOrName: string): Promise<void> {
    const c = await this.find(idOrName);
    const { unpauseContainer } = await lifecycle();
    await unpauseContainer(this.store, c);
    this.engine.events.container('unpause', c);
  }

  /**
   * POST /containers/{id}/update: the new limits over the old ones, checked
   * together (applied at once to a running container's cgroup), and the
   * restart policy (which a running container's monitor takes at its next start).
   */
  async update(idOrName: string, cfg: UpdateConfig): Promise<ContainerUpdateResponse> {
    const c = await this.find(idOrName);
    const [{ findCgroup, limitsOf }, { updateLimits }, { checkResources, checkRestart, givenLimits }] = await cgroups();
    const hc = this.store.hostConfig(c.ID);
    const { resources, warnings } = checkResources({ ...limitsOf(hc), ...givenLimits(cfg) }, true);
    const policy = cfg.RestartPolicy ? checkRestart(cfg.RestartPolicy, hc.AutoRemove) : undefined;
    const cg = c.State.Running ? findCgroup(c.ID) : undefined;
    if (cg) warnings.push(...updateLimits(cg, limitsOf({ ...hc, ...resources })));
    await this.store.update(c.ID, (_r, h) => {
      Object.assign(h, resources);
      if (policy) h.RestartPolicy = policy;
    });
    if (policy && c.State.Running)
      warnings.push(`the restart policy of ${c.Name.slice(1)} applies from its next start`);
    return { Warnings: warnings };
  }

  /**
   * The network state of containers that are gone (system check; see network/leftovers.ts); `repair` removes it.
   */
  async networkLeftovers(
    repair: boolean,
  ): Promise<Array<{ id: string; where: string[]; message: string; mine: boolean }>> {
    const { findNetworkLeftovers, removeNetworkLeftover } = await import('../network/leftovers.js');
    const containersDir = this.store.images.paths.containers;
    const found = await findNetworkLeftovers({ containersDir, networksDir: `${this.engine.root}/berth/networks` });
    if (repair) for (const l of found) await removeNetworkLeftover(l);
    return found;
  }

  /**
   * The names of the containers `start --all` starts (settled first: after a reboot, those marked running are
   * exited): every one not running, or of the given restart policies; `unless-stopped` ones a user stopped or killed
   * (their `stopping` marker, kept until their next start) are left stopped, as dockerd leaves them.
   */
  async startable(policies?: ReadonlySet<string>): Promise<string[]> {
    await this.settle();
    return (await import('../container/start-all.js')).startable(this.store, policies);
  }

  /** POST /containers/prune: every stopped container passing the filters (label, label!, until). */
  async prune(opts: { filters?: FilterMap } = {}): Promise<ContainerPruneResponse> {
    const plan = containerPrunePlan(filtersOf(opts.filters));
    await this.settle();
    const { pruneContainers } = await import('../container/prune.js');
    const before = new Map(this.store.list().map((c) => [c.ID, c]));
    const { deleted, reclaimed } = await pruneContainers(this.store, plan);
    for (const id of deleted) {
      const c = before.get(id);
      if (c) this.engine.events.container('destroy', c);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ---- runs in the caller's process, host copies, the monitor's clean-up (container-run.ts) ----
  async createForeground(plan: CreatePlan, stdio: [run.Stdio, run.Stdio, run.Stdio]): Promise<run.PreparedRun> {
    return (await runModule()).createForeground(this.engine, plan, stdio);
  }
  async runForeground(target: string | run.PreparedRun, opts: run.ForegroundOptions): Promise<number> {
    return (await runModule()).runForeground(this.engine, target, opts);
  }
  async copyToHost(id: string, srcPath: string, hostDest: string, opts?: run.CopyOptions): Promise<run.CopyResult> {
    return (await runModule()).copyFromContainerToHost(this.engine, id, srcPath, hostDest, opts);
  }
  async copyFromHost(id: string, hostSrc: string, dstPath: string, opts?: run.CopyOptions): Promise<run.CopyResult> {
    return (await runModule()).copyFromHostToContainer(this.engine, id, hostSrc, dstPath, opts);
  }
  async cleanup(id: string, endedRun?: { monitorPid: number }, signal?: AbortSignal): Promise<void> {
    return (await runModule()).cleanupContainer(this.engine, id, endedRun, signal);
  }

  // ---- streams and files (container-io.ts) ----
  async execCreate(id: string, config: ioExec.ExecConfig): Promise<{ Id: string }> {
    return (await ioExecModule()).execCreate(this.engine, id, config);
  }
  async execStart(execId: string, opts?: ioExec.ExecStartOptions, stdio?: ioExec.ExecIO): Promise<number> {
    return (await ioExecModule()).execStart(this.engine, execId, opts, stdio);
  }
  execInspect(execId: string): ioExec.ExecInspect {
    // (no exec was created in this process before its module was loaded: dockerd's answer for an unknown one)
    if (!ioExecLoaded) throw notFound('exec_not_found', `No such exec instance: ${execId}`);
    return ioExecLoaded.execInspect(this.engine, execId);
  }
  async *logs(id: string, opts?: ioStreams.LogsOptions): AsyncGenerator<ioStreams.LogEntry> {
    yield* (await ioStreamsModule()).logs(this.engine, id, opts);
  }
  async attach(id: string, opts?: ioStreams.AttachOptions): Promise<ioStreams.Attached> {
    return (await ioStreamsModule()).attach(this.engine, id, opts);
  }
  async top(id: string, psArgs?: string | string[]): Promise<{ Titles: string[]; Processes: string[][] }> {
    return (await ioModule()).top(this.engine, id, psArgs);
  }
  async stats(id: string, opts?: { stream?: false; oneShot?: boolean; intervalMs?: number }): Promise<io.StatsJSON> {
    return (await ioModule()).stats(this.engine, id, opts);
  }
  async *statsStream(id: string, opts?: { intervalMs?: number; signal?: AbortSignal }): AsyncGenerator<io.StatsJSON> {
    yield* (await ioModule()).statsStream(this.engine, id, opts);
  }
  async changes(id: string): Promise<Array<{ Path: string; Kind: 0 | 1 | 2 }>> {
    return (await ioModule()).changes(this.engine, id);
  }
  async export(id: string): Promise<Readable> {
    return (await ioArchiveModule()).exportContainer(this.engine, id);
  }
  async getArchive(id: string, path: string, opts?: { followLink?: boolean }): ReturnType<typeof ioArchive.getArchive> {
    return (await ioArchiveModule()).getArchive(this.engine, id, path, opts);
  }
  async putArchive(
    id: string,
    path: string,
    tar: AsyncIterable<Buffer> | Iterable<Buffer>,
    opts?: ioArchive.PutArchiveOptions,
  ): Promise<void> {
    return (await ioArchiveModule()).putArchive(this.engine, id, path, tar, opts);
  }
  async commit(id: string, opts?: io.CommitOptions): Promise<{ Id: string }> {
    return (await ioModule()).commit(this.engine, id, opts);
  }
}
