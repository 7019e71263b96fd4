import { conflict } from '../core/errors.js';
import { execPlan } from '../runtime/plan.js';
import { runHelper, type Stdio } from '../runtime/helper.js';
import { resolveUser } from '../runtime/user.js';
import { capabilitySet, noNewPrivileges, ownCapabilities } from '../runtime/security.js';
import type { OciSpec } from '../runtime/spec.js';
import { DEFAULT_PATH } from '../image/from-host.js';
import { containerSeccomp, hostFacts } from './run.js';
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

/** An exec's process: the container's user, environment and capabilities unless the options say otherwise (as Docker). */
export function execProcess(containers: ContainerStore, c: ContainerRecord, o: ExecOptions): OciSpec['process'] {
  const hc = containers.hostConfig(c.ID);
  const rootfs = `${containers.images.paths.cacheDir(c.MountID)}/merged`;
  const user = resolveUser(rootfs, o.user ?? c.Config.User, hc.GroupAdd ?? []);
  const env = [...(c.Config.Env ?? [])];
  const set = (kv: string) => {
    const k = kv.slice(0, kv.indexOf('='));
    const i = env.findIndex((e) => e.startsWith(`${k}=`));
    if (i >= 0) env[i] = kv; else env.push(kv);
  };
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.unshift(`HOSTNAME=${c.Config.Hostname}`);
  for (const e of o.env) if (e.includes('=')) set(e); else if (process.env[e] !== undefined) set(`${e}=${process.env[e]}`);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  if (o.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const own = ownCapabilities();
  const caps = capabilitySet(hc.CapAdd ?? [], hc.CapDrop ?? [], o.privileged || !!hc.Privileged).filter((x) => own.has(x));
  return {
    terminal: o.tty,
    user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
    args: o.cmd,
    env,
    cwd: o.workdir || c.Config.WorkingDir || '/',
    ...(noNewPrivileges(hc.SecurityOpt) ? { noNewPrivileges: true } : {}),
    capabilities: { bounding: caps, effective: user.uid === 0 ? caps : [], permitted: user.uid === 0 ? caps : [] },
  };
}

/**
 * `docker exec`: a process that joins the container's namespaces (through its
 * PID 1), with the container's security profile. Returns its exit code (in
 * the foreground) or 0 once it runs (-d).
 */
export async function execInContainer(containers: ContainerStore, c: ContainerRecord, o: ExecOptions, stdio: [Stdio, Stdio, Stdio], onStart?: (kill: (s: NodeJS.Signals) => void) => void): Promise<number> {
  const now = containers.tryGet(c.ID) ?? c;
  if (!now.State.Running || !containers.isLive(c.ID)) throw conflict('not_running', `container ${c.ID.slice(0, 12)} is not running`);
  if (now.State.Restarting || !now.State.Pid) throw conflict('restarting', `container ${c.ID.slice(0, 12)} is restarting, wait until the container is running`);
  if (now.State.Paused) throw conflict('paused', `container ${c.ID.slice(0, 12)} is paused, unpause the container before exec`);
  const proc = execProcess(containers, now, o);
  // the container's seccomp profile (an exec --privileged too, as Docker keeps the container's)
  const hc = containers.hostConfig(c.ID);
  const caps = proc.capabilities?.bounding ?? [];
  const steps = execPlan(now.State.Pid, proc, hostFacts(), { detached: o.detach, seccomp: containerSeccomp(containers, hc, caps)?.bpf, cgroupProcs: findCgroup(c.ID)?.procsFiles });
  const run = runHelper(steps, o.detach ? ['ignore', 'ignore', 'ignore'] : stdio, { detached: o.detach });
  onStart?.(run.kill);
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
