/**
 * Container operations that go beyond the HTTP API because berth has no
 * daemon: a container run in the foreground of the caller's process (with its
 * stdio), copies between a container and host paths, and the clean-up a
 * detached container's monitor runs when the container is done for good.
 */
import { conflict } from '../core/errors.js';
import { mark } from '../core/trace.js';
import { randomHex } from '../storage/fsutil.js';
import type { Stdio } from '../runtime/helper.js';
import { prepareForeground, startForeground, type EarlyStart } from '../container/run.js';
import { copyFromContainer, copyToContainer, type CopyOptions, type CopyResult } from '../container/cp.js';
import { CONTAINER_ID_RE } from '../container/store-paths.js';
import type { CreatePlan } from './container-create.js';
import { findContainer } from './container-io-find.js';
import type { Engine } from './engine.js';

export type { Stdio } from '../runtime/helper.js';
export type { CopyOptions, CopyResult } from '../container/cp.js';

/** How a foreground run is connected to the caller: Node's spawn stdio, and a hook once the container runs. */
export interface ForegroundOptions {
  stdio: [Stdio, Stdio, Stdio];
  /** Called once the container process runs, with a function that sends it a signal (through its monitor). */
  onStart?: (kill: (s: NodeJS.Signals) => void) => void;
}

/** A container created for a foreground run whose start began meanwhile (its cgroup, its helper). */
export interface PreparedRun {
  Id: string;
  Warnings: string[];
  /** @internal the start begun while the layers were made */
  early?: EarlyStart;
}

/**
 * Create a container to run in the foreground: the cgroup and the helper start while the layers are made (see
 * container/run.ts prepareForeground), so the start that follows with `runForeground` is sooner. A create that fails
 * undoes the begun start.
 */
export async function createForeground(
  engine: Engine,
  plan: CreatePlan,
  stdio: [Stdio, Stdio, Stdio],
): Promise<PreparedRun> {
  const id = randomHex();
  const early = prepareForeground(id, plan.opts.hostConfig, stdio);
  mark('helper started');
  try {
    await engine.containers.create(plan, id);
  } catch (err) {
    await early?.abort();
    throw err;
  }
  return { Id: id, Warnings: plan.warnings, ...(early ? { early } : {}) };
}

/**
 * Run a created container in the foreground of this process and wait for it: its exit code (Docker's: 128+n when
 * killed by signal n, 125/126/127 for berth's own, cannot-execute and not-found failures). A running container is
 * refused. Once it ended, AutoRemove removes it; a start that failed is the error thrown, not a removal that could
 * not follow it.
 */
export async function runForeground(
  engine: Engine,
  target: string | PreparedRun,
  opts: ForegroundOptions,
): Promise<number> {
  const prepared = typeof target === 'string' ? undefined : target;
  let id = prepared?.Id;
  let failed = false;
  try {
    const c = prepared
      ? engine.containerStore.resolve(prepared.Id)
      : await findContainer(engine, target as string).then((c) => {
          id = c.ID;
          return c;
        });
    if (!prepared && c.State.Running)
      throw conflict('already_running', `container ${c.ID.slice(0, 12)} is already running`);
    // as dockerd: attached, then started (the helper writes the start and the die of the run)
    engine.events.container('attach', c);
    return await startForeground(engine.containerStore, c, {
      stdio: opts.stdio,
      early: prepared?.early,
      onStart: (kill) => opts.onStart?.(kill),
    });
  } catch (err) {
    failed = true;
    await prepared?.early?.abort();
    throw err;
  } finally {
    if (id !== undefined)
      await engine.containers.autoRemove(id).catch((err: unknown) => {
        if (!failed) throw err;
      });
    mark('remove (--rm)');
  }
}

/** Copy a container's file or tree to a host path (`docker cp CONTAINER:SRC DEST`, without the tar in between). */
export async function copyFromContainerToHost(
  engine: Engine,
  idOrName: string,
  srcPath: string,
  hostDest: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const c = await findContainer(engine, idOrName);
  return copyFromContainer(engine.containerStore, { ref: idOrName, c }, srcPath, hostDest, opts);
}

/** Copy a host file or tree into a container (`docker cp SRC CONTAINER:DEST`). */
export async function copyFromHostToContainer(
  engine: Engine,
  idOrName: string,
  hostSrc: string,
  dstPath: string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const c = await findContainer(engine, idOrName);
  return copyToContainer(engine.containerStore, { ref: idOrName, c }, hostSrc, dstPath, opts);
}

/**
 * What a detached container's monitor execs when the container is done for good (`berth container cleanup ID`):
 * record its end, unmount it, remove its cgroup (and the container if --rm). `monitorPid` names the run that ended
 * (the monitor's pid, which the exec'd process keeps), so the clean-up of a run that a restart followed ends at once.
 * Also for a container removed meanwhile (`rm -f` while its monitor ended): its cgroup may be left.
 */
export async function cleanupContainer(
  engine: Engine,
  id: string,
  endedRun?: { monitorPid: number },
  signal?: AbortSignal,
): Promise<void> {
  const cs = engine.containerStore;
  const before = cs.tryGet(id);
  if (before || CONTAINER_ID_RE.test(id)) await cs.cleanup(id, endedRun, signal);
  if (before && !cs.tryGet(id)) engine.events.container('destroy', before); // --rm
}
