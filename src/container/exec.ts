import * as fs from 'node:fs';
import { conflict } from '../core/errors.js';
import { thawedState } from '../runtime/cgroups/cgroups.js';
import { readOptional, writeFileAtomic } from '../storage/fsutil.js';
import { encodePlan, execPlan, type Step } from '../runtime/plan.js';
import { bundlePath, helperPath, runHelper, type HelperHandle, type Stdio } from '../runtime/helper.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import { resolveUser } from '../runtime/user.js';
import { capabilitySet, noNewPrivileges, ownCapabilities, ownCapabilityMask } from '../runtime/security.js';
import type { OciSpec } from '../runtime/spec.js';
import { DEFAULT_PATH } from '../image/from-host.js';
import { containerSeccomp, hostFacts } from './spec.js';
import { findCgroup } from './cgroup.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

export interface ExecOptions {
  cmd: string[];
  tty: boolean;
  env: string[];
  workdir?: string;
  user?: string;
  privileged: boolean;
  detach: boolean;
}

/**
 * An exec's process: the container's user, environment and capabilities unless the options say otherwise (as Docker).
 */
export function execProcess(containers: ContainerStore, c: ContainerRecord, o: ExecOptions): OciSpec['process'] {
  const hc = containers.hostConfig(c.ID);
  const rootfs = `${containers.images.paths.cacheDir(c.MountID)}/merged`;
  const user = resolveUser(rootfs, o.user ?? c.Config.User, hc.GroupAdd ?? []);
  const env = [...(c.Config.Env ?? [])];
  const set = (kv: string) => {
    const k = kv.slice(0, kv.indexOf('='));
    const i = env.findIndex((e) => e.startsWith(`${k}=`));
    if (i >= 0) env[i] = kv;
    else env.push(kv);
  };
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.unshift(`HOSTNAME=${c.Config.Hostname}`);
  // as dockerd: a name without "=" unsets it (the CLI expands `-e VAR` from its own environment first)
  for (const e of o.env)
    if (e.includes('=')) set(e);
    else {
      const i = env.findIndex((x) => x.startsWith(`${e}=`));
      if (i >= 0) env.splice(i, 1);
    }
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  if (o.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const own = ownCapabilities();
  const caps = capabilitySet(hc.CapAdd ?? [], hc.CapDrop ?? [], o.privileged || !!hc.Privileged).filter((x) =>
    own.has(x),
  );
  return {
    terminal: o.tty,
    user: {
      uid: user.uid,
      gid: user.gid,
      ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
    },
    args: o.cmd,
    env,
    cwd: o.workdir || c.Config.WorkingDir || '/',
    ...(noNewPrivileges(hc.SecurityOpt) ? { noNewPrivileges: true } : {}),
    capabilities: { bounding: caps, effective: user.uid === 0 ? caps : [], permitted: user.uid === 0 ? caps : [] },
  };
}

/** The helper's plan for an exec into the running container `c` (its State.Pid). */
export function execSteps(containers: ContainerStore, c: ContainerRecord, o: ExecOptions): Step[] {
  const proc = execProcess(containers, c, o);
  // the container's seccomp profile (an exec --privileged too, as Docker keeps the container's)
  const hc = containers.hostConfig(c.ID);
  const caps = proc.capabilities?.bounding ?? [];
  return execPlan(c.State.Pid, proc, hostFacts(), {
    detached: o.detach,
    seccomp: containerSeccomp(containers, hc, caps)?.bpf,
    cgroupProcs: findCgroup(c.ID)?.procsFiles,
  });
}

/**
 * `docker exec`: a process that joins the container's namespaces (through its
 * PID 1), with the container's security profile. Returns its exit code (in
 * the foreground) or 0 once it runs (-d).
 */
export async function execInContainer(
  containers: ContainerStore,
  c: ContainerRecord,
  o: ExecOptions,
  stdio: [Stdio, Stdio, Stdio],
  onStart?: (kill: (s: NodeJS.Signals) => void, run: HelperHandle) => void,
): Promise<number> {
  const now = containers.tryGet(c.ID) ?? c;
  if (!now.State.Running || !containers.isLive(c.ID))
    throw conflict('not_running', `container ${c.ID.slice(0, 12)} is not running`);
  if (now.State.Restarting || !now.State.Pid)
    throw conflict('restarting', `container ${c.ID.slice(0, 12)} is restarting, wait until the container is running`);
  if (now.State.Paused)
    throw conflict('paused', `container ${c.ID.slice(0, 12)} is paused, unpause the container before exec`);
  const steps = execSteps(containers, now, o);
  refreshFastExecPlan(containers, now);
  const run = runHelper(steps, o.detach ? ['ignore', 'ignore', 'ignore'] : stdio, { detached: o.detach });
  onStart?.(run.kill, run);
  try {
    await run.started;
  } catch (err) {
    await run.exited;
    throw err;
  }
  if (o.detach) {
    run.child.unref();
    for (const s of run.child.stdio) (s as { destroy?: () => void } | null)?.destroy?.();
    return 0;
  }
  return run.exited;
}

/**
 * The fast path of `berth exec [-i] [-t] CONTAINER CMD...` (native/launcher/):
 * TypeScript plans the exec once and writes it to containers/<id>/exec.plan
 * with what the plan depends on. The launcher checks each of those
 * preconditions, appends the command and runs the helper without starting
 * Node; a failed check sends it here, and this path writes the plan again.
 *
 * Text lines, then the plans (the exec step left out):
 *   berth-exec-plan 1
 *   pid <pid> <start time>          the container's process is still the one planned for (/proc/<pid>/stat field 22)
 *   lock <path>                     some berth process holds the container's run lock (it is live)
 *   file <content> <path>           this file's content, trimmed, is this (the freezer: not paused)
 *   unchanged <ino> <size> <ctime-ns> <path>, or unchanged absent <path>   (lstat: the rootfs's /etc/passwd and
 *                                   /etc/group; the helper and the bundle, so that a rebuilt berth plans again)
 *   caps <hex>                      the launcher's permitted capabilities are the planner's
 *   plan <plain|tty> <length>       then that many bytes and a newline
 */
function fastExecPlan(containers: ContainerStore, c: ContainerRecord, head: string): Buffer | undefined {
  const parts: Buffer[] = [Buffer.from(head)];
  for (const tty of [false, true]) {
    const steps = execSteps(containers, c, { cmd: ['true'], tty, env: [], privileged: false, detach: false });
    if (steps.pop()?.[0] !== 'exec') return undefined;
    const plan = encodePlan(steps);
    parts.push(Buffer.from(`plan ${tty ? 'tty' : 'plain'} ${plan.length}\n`), plan, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Write the fast exec plan of a running container unless the one there still holds (best effort: without it, exec takes
 * this path).
 */
export function refreshFastExecPlan(containers: ContainerStore, c: ContainerRecord): void {
  try {
    const path = `${containers.dir(c.ID)}/exec.plan`;
    const head = fastExecHeader(containers, c);
    if (!head) {
      fs.rmSync(path, { force: true });
      return;
    }
    if (readOptional(path)?.startsWith(head)) return;
    const plan = fastExecPlan(containers, c, head);
    if (plan) writeFileAtomic(path, plan, 0o600, false);
  } catch {
    /* no fast path for this container */
  }
}

function fastExecHeader(containers: ContainerStore, c: ContainerRecord): string | undefined {
  const pid = c.State.Pid;
  const start = pid ? procStartTime(pid) : undefined;
  if (!c.State.Running || start === undefined) return undefined;
  const lines = ['berth-exec-plan 1', `pid ${pid} ${start}`, `lock ${containers.lockPath(c.ID)}`];
  const cg = findCgroup(c.ID);
  const freezer = cg && thawedState(cg);
  if (freezer) lines.push(`file ${freezer.thawed} ${freezer.file}`);
  const rootfs = `${containers.images.paths.cacheDir(c.MountID)}/merged`;
  // the files the user is resolved from (resolveUser), and berth's own code: a rebuilt berth plans again
  const facts = ['/etc/passwd', '/etc/group'].map((f) => `${rootfs}${f}`);
  for (const f of facts) {
    // a symlink on the way (/etc -> usr/etc) resolves inside the container, elsewhere than the host path the launcher
    // checks
    if (resolveInRoot(rootfs, f.slice(rootfs.length)) !== f) return undefined;
  }
  for (const f of [...facts, helperPath(), bundlePath()]) {
    const st = fs.lstatSync(f, { bigint: true, throwIfNoEntry: false });
    if (st && !st.isFile()) return undefined;
    lines.push(st ? `unchanged ${st.ino} ${st.size} ${st.ctimeNs} ${f}` : `unchanged absent ${f}`);
  }
  lines.push(`caps ${ownCapabilityMask().toString(16)}`);
  if (lines.some((l) => l.includes('\n'))) return undefined;
  return `${lines.join('\n')}\n`;
}

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22), if it exists. */
export function procStartTime(pid: number): string | undefined {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}
