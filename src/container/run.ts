import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import { buildSpec, type OciSpec } from '../runtime/spec.js';
import { planFromSpec } from '../runtime/plan.js';
import { runHelper, type HelperRun, type Stdio } from '../runtime/helper.js';
import { runRunc } from '../runtime/runc.js';
import { resolveUser } from '../runtime/user.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import { capabilitySet, ownCapabilities } from '../runtime/security.js';
import { DEFAULT_PATH } from '../image/from-host.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { mark } from '../core/trace.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

export interface StartOptions {
  stdio: [Stdio, Stdio, Stdio];
  /** Called once the container process runs (for signal forwarding). */
  onStart?: (kill: (s: NodeJS.Signals) => void) => void;
}

/** Parse `-v HOST:CTR[:ro|rw]`. Host paths must be absolute (named volumes come later). */
export function parseBind(v: string): { source: string; destination: string; readonly: boolean } {
  const parts = v.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalid('invalid_volume', `invalid volume specification: ${JSON.stringify(v)}`);
  const [source, destination, mode = 'rw'] = parts as [string, string, string?];
  if (!source.startsWith('/')) throw invalid('invalid_volume', `invalid volume specification: ${JSON.stringify(v)}: named volumes are not supported yet; use an absolute host path`);
  if (!destination.startsWith('/')) throw invalid('invalid_volume', `invalid volume specification: ${JSON.stringify(v)}: the container path must be absolute`);
  if (!/^(ro|rw)(,[a-z]+)*$/.test(mode)) throw invalid('invalid_volume', `invalid mode ${JSON.stringify(mode)} in ${JSON.stringify(v)}`);
  return { source, destination, readonly: mode.split(',').includes('ro') };
}

/** The OCI spec of a created container, resolved against its mounted rootfs. */
export function containerSpec(containers: ContainerStore, c: ContainerRecord, rootfs: string, terminal: boolean): OciSpec {
  const hc = containers.hostConfig(c.ID);
  const user = resolveUser(rootfs, c.Config.User, hc.GroupAdd ?? []);
  const env = [...(c.Config.Env ?? [])];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (!has('PATH')) env.unshift(DEFAULT_PATH);
  if (!has('HOSTNAME')) env.unshift(`HOSTNAME=${c.Config.Hostname}`);
  if (!has('HOME')) env.push(`HOME=${user.home}`);
  if (terminal && !has('TERM')) env.push('TERM=xterm');
  const binds = (hc.Binds ?? []).map(parseBind);
  for (const b of binds) if (!fs.existsSync(b.source)) fs.mkdirSync(b.source, { recursive: true, mode: 0o755 });
  const tmpfs = Object.entries(hc.Tmpfs ?? {}).map(([destination, o]) => ({ destination, options: ['nosuid', 'nodev', 'noexec', ...(o ? o.split(',') : [])] }));
  const own = ownCapabilities();
  // the working directory may pass through symlinks of the image: resolve it inside the rootfs, as Docker does
  const cwd = resolveInRoot(rootfs, c.Config.WorkingDir || '/').slice(rootfs.length) || '/';
  return buildSpec({
    rootfs, args: [c.Path, ...c.Args], env, cwd, uid: user.uid, gid: user.gid,
    additionalGids: user.additionalGids, hostname: c.Config.Hostname ?? c.ID.slice(0, 12), terminal,
    readonlyRootfs: hc.ReadonlyRootfs, network: hc.NetworkMode,
    etcFiles: { hosts: c.HostsPath, hostname: c.HostnamePath, resolvConf: c.ResolvConfPath },
    binds, tmpfs,
    // only what berth itself holds (here CAP_SYS_RESOURCE is missing): asking for more fails capset
    capabilities: capabilitySet(hc.CapAdd ?? [], hc.CapDrop ?? [], !!hc.Privileged).filter((c) => own.has(c)),
    privileged: !!hc.Privileged,
    noNewPrivileges: (hc.SecurityOpt ?? []).some((o) => /^no-new-privileges(:true|=true)?$/.test(o)),
  });
}

/**
 * Start a created container in the foreground and wait for it: mount the
 * union, run the helper, record state, unmount. Returns the exit code
 * (Docker's: the process's, 128+n when killed by signal n, 125/126/127 for
 * berth's own, cannot-execute and not-found failures).
 */
export async function startForeground(containers: ContainerStore, c: ContainerRecord, opts: StartOptions): Promise<number> {
  const p = containers.images.paths;
  mark('create container');
  const lock = containers.lockForRun(c);
  const rootfs = mountRootfs(p, c.MountID, { volatile: containers.hostConfig(c.ID).AutoRemove });
  mark('mount overlay');
  try {
    const spec = containerSpec(containers, c, rootfs, !!c.Config.Tty);
    let run: HelperRun & { child: { pid?: number } };
    if (containers.hostConfig(c.ID).Runtime === 'runc') {
      // the same spec as a bundle for runc, which stays as the monitor; it removes its state and the bundle when done
      run = runRunc(c.ID, spec, opts.stdio);
      mark('spec + runc bundle');
    } else {
      const steps = planFromSpec(spec, {
        sourceIsDir: (src) => { try { return fs.statSync(src).isDirectory(); } catch { return true; } },
        kcore: fs.existsSync('/proc/kcore'),
        capLast: Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')),
      });
      mark('spec + plan');
      run = runHelper(steps, opts.stdio);
    }
    const pid = await Promise.race([run.pid, run.exited.then(() => 0)]);
    mark('helper: spawn to fork');
    c.State = { ...c.State, Status: 'running', Running: true, Pid: pid || run.child.pid || 0, StartedAt: new Date().toISOString(), ExitCode: 0, Error: '' };
    containers.save(c);
    opts.onStart?.(run.kill);
    let code: number;
    let error = '';
    try {
      await run.started;
      mark('helper: namespaces, mounts, exec');
      code = await run.exited;
      mark('container process ran');
    } catch (err) {
      code = (err as { exitCode?: number }).exitCode ?? 125;
      error = (err as Error).message;
      await run.exited;
      c.State = { ...c.State, Status: 'exited', Running: false, Pid: 0, ExitCode: code, Error: error, FinishedAt: new Date().toISOString() };
      containers.save(c);
      throw err;
    }
    c.State = { ...c.State, Status: 'exited', Running: false, Pid: 0, ExitCode: code, Error: error, FinishedAt: new Date().toISOString() };
    containers.save(c);
    return code;
  } finally {
    unmountRootfs(p, c.MountID);
    lock.release();
    mark('unmount');
  }
}
