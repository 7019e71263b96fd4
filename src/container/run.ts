import * as fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { invalid } from '../core/errors.js';
import { containerEventStep } from '../events/container-events.js';
import { execPlan, planFromSpec, preludePlan, type HostFacts, type MonitorPlan } from '../runtime/plan.js';
import { execProcess, refreshFastExecPlan } from './exec.js';
import { containerSpecAndFilter, healthSettings, hostFacts } from './spec.js';
import { endCgroup, startCgroup } from './cgroup.js';
import {
  berthCommand,
  runHelper,
  startHelper,
  type HelperHandle,
  type HelperRun,
  type Stdio,
} from '../runtime/helper.js';
import { runRunc } from '../runtime/runc.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { connectContainer, disconnectContainer } from './network.js';
import { mark } from '../core/trace.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord, HostConfig } from './types.js';

export interface StartOptions {
  stdio: [Stdio, Stdio, Stdio];
  /** Made by prepareForeground while the container was being created. */
  early?: EarlyStart;
  /**
   * Called once the container process runs: signals to its monitor (which forwards them), and its pid (0 if it already
   * ended).
   */
  onStart?: (kill: (s: NodeJS.Signals) => void, pid: number) => void;
  /**
   * Mount the union volatile (no sync at unmount) although the container stays: a build step, whose layer is made right
   * after.
   */
  volatile?: boolean;
  /** Called with the monitor process once it is spawned (its stdout/stderr are readable with 'pipe' stdio). */
  onSpawn?: (monitor: ChildProcess) => void;
}

/** Docker's --log-opt max-size (go-units RAM size) and max-file. */
function logLimits(cfg: Record<string, string> = {}): { maxSize: number; maxFiles: number } {
  let maxSize = 0;
  if (cfg['max-size'] && cfg['max-size'] !== '-1') {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(cfg['max-size']);
    if (!m) throw invalid('invalid_log_opt', `invalid --log-opt max-size=${JSON.stringify(cfg['max-size'])}`);
    maxSize = Math.floor(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
  }
  const maxFiles = cfg['max-file'] ? Number(cfg['max-file']) : 1;
  if (!Number.isInteger(maxFiles) || maxFiles < 1)
    throw invalid(
      'invalid_log_opt',
      `invalid --log-opt max-file=${JSON.stringify(cfg['max-file'])}: a positive integer`,
    );
  if (maxFiles > 1 && !maxSize) throw invalid('invalid_log_opt', '--log-opt max-file needs max-size');
  return { maxSize, maxFiles };
}

/** The monitor's healthcheck (an exec into the container on a timer), if the container has one. */
function healthPlan(
  containers: ContainerStore,
  c: ContainerRecord,
  facts: HostFacts,
  bpf: Buffer | undefined,
  cgroupProcs: readonly string[],
): MonitorPlan['health'] {
  const hcheck = healthSettings(c.Config.Healthcheck);
  if (!hcheck) return undefined;
  const proc = execProcess(containers, c, { cmd: hcheck.cmd, tty: false, env: [], privileged: false, detach: false });
  return {
    ...hcheck,
    statePath: containers.healthPath(c.ID),
    plan: execPlan('monitored', proc, facts, { seccomp: bpf, cgroupProcs }),
  };
}

/**
 * Start a created container detached: its monitor (the native helper, in a
 * session of its own) outlives this process, holds the container's run lock,
 * logs its output in Docker's json-file format, applies the restart policy and,
 * when the container is done for good, unmounts it and runs `berth container
 * cleanup`, which records the end in config.v2.json (and removes a --rm container).
 * Resolves once the command has been exec'd.
 */
export async function startDetached(containers: ContainerStore, c: ContainerRecord): Promise<void> {
  const p = containers.images.paths;
  const hc = containers.hostConfig(c.ID);
  if (hc.Runtime === 'runc')
    throw invalid(
      'unsupported',
      'detached containers run with the native helper; --runtime runc runs in the foreground',
    );
  const lock = await containers.lockForStart(c);
  let rootfs: string | undefined;
  try {
    fs.rmSync(containers.stopMarker(c.ID), { force: true });
    fs.rmSync(containers.statePath(c.ID), { force: true });
    rootfs = mountRootfs(p, c.MountID, { volatile: hc.AutoRemove });
    // on the bridge: its netns, veth, address and ports, before the plan that joins them (released by its clean-up)
    await connectContainer(containers, c);
    const { spec, bpf } = containerSpecAndFilter(containers, c, rootfs, !!c.Config.Tty);
    const logPath = containers.logPath(c.ID);
    const monitor: MonitorPlan = {
      log: { path: logPath, ...logLimits(hc.LogConfig?.Config) },
      statePath: containers.statePath(c.ID),
      restart: { name: hc.RestartPolicy?.Name ?? 'no', max: hc.RestartPolicy?.MaximumRetryCount ?? 0 },
      stopMarker: containers.stopMarker(c.ID),
      umount: rootfs,
      exitCommand: [berthCommand(), '--root', p.root, 'container', 'cleanup', c.ID],
      attach: { dir: containers.dir(c.ID), stdinOpen: !!c.Config.OpenStdin },
    };
    const cg = startCgroup(c.ID, hc);
    monitor.oomCounter = cg.oomCounter;
    const facts = hostFacts();
    monitor.health = healthPlan(containers, c, facts, bpf, cg.cgroup.procsFiles);
    // the monitor writes the container's die, restart and health events itself
    const steps = [
      containerEventStep(p.root, c),
      ...planFromSpec(spec, facts, {
        monitor,
        init: !!hc.Init,
        seccomp: bpf,
        cgroupProcs: cg.cgroup.procsFiles,
      }),
    ];
    const run = runHelper(steps, ['ignore', 'ignore', 'ignore'], { detached: true, extraFds: [lock.descriptor] });
    const pid = await Promise.race([run.pid, run.exited.then(() => 0)]);
    await run.started;
    c.State = {
      ...c.State,
      Status: 'running',
      Running: true,
      Restarting: false,
      Paused: false,
      OOMKilled: false,
      Pid: pid,
      StartedAt: new Date().toISOString(),
      ExitCode: 0,
      Error: '',
      FinishedAt: c.State.FinishedAt,
    };
    c.LogPath = logPath;
    await containers.setState(c);
    refreshFastExecPlan(containers, c);
    run.child.unref();
    for (const s of run.child.stdio) (s as { destroy?: () => void } | null)?.destroy?.();
  } catch (err) {
    // nothing runs: record why, as Docker does for a failed start
    if (rootfs) unmountRootfs(p, c.MountID);
    await endCgroup(c.ID).catch(() => false);
    c.NetworkSettings = await disconnectContainer(c, hc.NetworkMode, containers).catch(() => undefined);
    c.State = {
      ...c.State,
      Status: c.State.Status === 'created' ? 'created' : 'exited',
      Running: false,
      Pid: 0,
      ExitCode: (err as { exitCode?: number }).exitCode ?? 125,
      Error: (err as Error).message,
    };
    await containers.setState(c);
    throw err;
  } finally {
    lock.release(); // the monitor keeps its copy of the locked descriptor
  }
}

/**
 * A foreground start begun while the container is still being created: its cgroup, and the helper already joining it.
 */
export interface EarlyStart {
  cgroup: ReturnType<typeof startCgroup>;
  helper: HelperHandle;
  /** The plan was sent (the helper runs the container) or ended (it exits). */
  sent: boolean;
  /** Undo: end the helper's plan, wait for it, remove the cgroup. */
  abort(): Promise<void>;
}

/**
 * `run` in the foreground with the native helper: make the cgroup and start the
 * helper on its prelude (die with berth, join the cgroup) before the container
 * exists, so the helper's cgroup migration overlaps creating the layers.
 */
export function prepareForeground(id: string, hc: HostConfig, stdio: [Stdio, Stdio, Stdio]): EarlyStart | undefined {
  if (hc.Runtime === 'runc') return undefined;
  // the helper (the container's monitor) joins the cgroup too: the pids limit leaves room for it
  const cgroup = startCgroup(id, hc, { monitorInside: true });
  mark('cgroup');
  let helper: HelperHandle;
  try {
    helper = startHelper(stdio);
  } catch (err) {
    void endCgroup(id).catch(() => false);
    throw err;
  }
  helper.send(preludePlan(cgroup.cgroup.procsFiles), false);
  const early: EarlyStart = {
    cgroup,
    helper,
    sent: false,
    abort: async () => {
      if (!early.sent) {
        early.sent = true;
        helper.send([], true);
      }
      await helper.exited;
      await endCgroup(id).catch(() => false);
    },
  };
  return early;
}

/**
 * Start a created container in the foreground and wait for it: mount the
 * union, run the helper, record state, unmount. Returns the exit code
 * (Docker's: the process's, 128+n when killed by signal n, 125/126/127 for
 * berth's own, cannot-execute and not-found failures).
 */
export async function startForeground(
  containers: ContainerStore,
  c: ContainerRecord,
  opts: StartOptions,
): Promise<number> {
  const p = containers.images.paths;
  mark('create container');
  const durable = !containers.hostConfig(c.ID).AutoRemove;
  let lock: Awaited<ReturnType<ContainerStore['lockForStart']>>;
  let rootfs: string;
  try {
    lock = await containers.lockForStart(c);
    rootfs = mountRootfs(p, c.MountID, { volatile: containers.hostConfig(c.ID).AutoRemove || !!opts.volatile });
  } catch (err) {
    await opts.early?.abort();
    throw err;
  }
  mark('mount overlay');
  const network = containers.hostConfig(c.ID).NetworkMode;
  try {
    await connectContainer(containers, c);
    if (network !== 'none' && network !== 'host') mark('network');
    const { spec, bpf } = containerSpecAndFilter(containers, c, rootfs, !!c.Config.Tty);
    let run: HelperRun & { child: { pid?: number } };
    if (containers.hostConfig(c.ID).Runtime === 'runc') {
      // the same spec as a bundle for runc, which stays as the monitor; it removes its state and the bundle when done
      run = runRunc(c.ID, spec, opts.stdio);
      mark('spec + runc bundle');
    } else {
      const early = opts.early;
      mark('spec');
      const cg = early?.cgroup ?? startCgroup(c.ID, containers.hostConfig(c.ID));
      if (!early) mark('cgroup');
      const facts = hostFacts();
      const steps = [
        containerEventStep(p.root, c),
        ...planFromSpec(spec, facts, {
          init: !!containers.hostConfig(c.ID).Init,
          seccomp: bpf,
          cgroupProcs: cg.cgroup.procsFiles,
          afterPrelude: !!early,
          health: healthPlan(containers, c, facts, bpf, cg.cgroup.procsFiles),
        }),
      ];
      mark('plan');
      if (early) {
        early.sent = true;
        early.helper.send(steps, true);
        run = early.helper;
      } else run = runHelper(steps, opts.stdio);
    }
    opts.onSpawn?.(run.child as ChildProcess);
    const pid = await Promise.race([run.pid, run.exited.then(() => 0)]);
    mark('helper: spawn to fork');
    opts.onStart?.(run.kill, pid);
    let code: number;
    let error = '';
    try {
      await run.started;
      mark('helper: namespaces, mounts, exec');
      // running once the command runs (State.Pid is then the command, not the helper it was cloned from)
      c.State = {
        ...c.State,
        Status: 'running',
        Running: true,
        Pid: pid || run.child.pid || 0,
        StartedAt: new Date().toISOString(),
        ExitCode: 0,
        Error: '',
      };
      await containers.setState(c, durable);
      code = await run.exited;
      mark('container process ran');
    } catch (err) {
      code = (err as { exitCode?: number }).exitCode ?? 125;
      error = (err as Error).message;
      await run.exited;
      c.State = {
        ...c.State,
        Status: 'exited',
        Running: false,
        Pid: 0,
        ExitCode: code,
        Error: error,
        FinishedAt: new Date().toISOString(),
      };
      await containers.setState(c, durable);
      throw err;
    }
    const oom = await endCgroup(c.ID);
    mark('cgroup removed');
    if (network !== 'none' && network !== 'host') c.NetworkSettings = await disconnectContainer(c, network, containers);
    c.State = {
      ...c.State,
      Status: 'exited',
      Running: false,
      Pid: 0,
      ExitCode: code,
      Error: error,
      OOMKilled: oom,
      FinishedAt: new Date().toISOString(),
    };
    await containers.setState(c, durable);
    return code;
  } finally {
    if (opts.early && !opts.early.sent) await opts.early.abort();
    await endCgroup(c.ID).catch(() => false);
    // (also after a failed start; nothing if the network was released above)
    if (network !== 'none' && network !== 'host') await disconnectContainer(c, network).catch(() => undefined);
    unmountRootfs(p, c.MountID);
    lock.release();
    mark('unmount');
  }
}
