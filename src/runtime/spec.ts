import { MASKED_PATHS, READONLY_PATHS } from './security.js';
import type { OciSeccomp } from './seccomp/profile.js';

/**
 * The OCI runtime spec (config.json) as berth builds it: plain data, produced
 * by pure functions, executed by the native helper or written as a bundle for runc.
 */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    noNewPrivileges?: boolean;
    capabilities?: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits?: Array<{ type: string; hard: number; soft: number }>;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: Array<{ type: 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup'; path?: string }>;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: OciSeccomp;
    /** --device: nodes made in the container's /dev (OCI linux.devices). */
    devices?: Array<{
      path: string;
      type: 'c' | 'b';
      major: number;
      minor: number;
      fileMode?: number;
      uid?: number;
      gid?: number;
    }>;
    /** For runc, which makes the cgroup itself (the native helper joins the one berth made). */
    cgroupsPath?: string;
    resources?: OciResources;
  };
}

/** OCI linux.resources (the parts berth sets). */
export interface OciResources {
  devices?: Array<{ allow: boolean; type?: string; major?: number; minor?: number; access?: string }>;
  memory?: { limit?: number; reservation?: number; swap?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
}

export interface SpecInput {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  terminal: boolean;
  readonlyRootfs: boolean;
  /** none: a new empty netns; host: the host's; a path: a netns berth made (bridge), joined. */
  network: 'none' | 'host' | { netns: string };
  /** Host files bind-mounted over the init layer's placeholders. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Binds; with `type`, a mount of that type (a volume's local driver options), `data` its options. */
  binds: Array<{ source: string; destination: string; readonly: boolean; type?: string; data?: string[] }>;
  tmpfs: Array<{ destination: string; options: string[] }>;
  /** The capability set (names); a non-root user keeps only the bounding set, as Docker. */
  capabilities: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  /** The seccomp filter (Docker's default profile unless unconfined). */
  seccomp?: OciSeccomp;
  /** --ulimit, as OCI rlimits (RLIMIT_NOFILE, ...). */
  rlimits?: Array<{ type: string; hard: number; soft: number }>;
  cgroup?: { path: string; resources: OciResources };
  devices?: NonNullable<OciSpec['linux']['devices']>;
}

/** Docker's default mounts: proc, /dev tmpfs, devpts, shm, mqueue, sysfs (read-only). */
export function defaultMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    // the container's own cgroups (its cgroup namespace is their root), read-only as Docker mounts them
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
  ];
}

export function buildSpec(i: SpecInput): OciSpec {
  const mounts = defaultMounts();
  // --privileged: the cgroup filesystem is writable (as Docker)
  if (i.privileged) for (const m of mounts) if (m.type === 'cgroup') m.options = m.options!.filter((o) => o !== 'ro');
  if (i.network === 'host') {
    // sysfs of another network namespace cannot be mounted: Docker binds the host's /sys read-only then
    mounts.splice(3, 1, {
      destination: '/sys',
      type: 'bind',
      source: '/sys',
      options: ['rbind', 'nosuid', 'noexec', 'nodev', 'rro'],
    });
  }
  for (const t of i.tmpfs)
    mounts.push({ destination: t.destination, type: 'tmpfs', source: 'tmpfs', options: t.options });
  mounts.push(
    { destination: '/etc/resolv.conf', type: 'bind', source: i.etcFiles.resolvConf, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hostname', type: 'bind', source: i.etcFiles.hostname, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: i.etcFiles.hosts, options: ['rbind', 'rprivate'] },
  );
  // rro: read-only all the way down (submounts too), as runc >= 1.1 and the native helper apply it
  for (const b of i.binds)
    mounts.push(
      b.type
        ? // a volume with local driver options: a mount of its own type
          {
            destination: b.destination,
            type: b.type,
            source: b.source,
            options: [...(b.data ?? []), ...(b.readonly ? ['ro'] : [])],
          }
        : {
            destination: b.destination,
            type: 'bind',
            source: b.source,
            options: ['rbind', 'rprivate', ...(b.readonly ? ['rro'] : [])],
          },
    );
  const namespaces: OciSpec['linux']['namespaces'] = [
    { type: 'mount' },
    { type: 'pid' },
    { type: 'uts' },
    { type: 'ipc' },
    { type: 'cgroup' },
  ];
  if (i.network === 'none') namespaces.push({ type: 'network' });
  else if (typeof i.network === 'object') namespaces.push({ type: 'network', path: i.network.netns });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: i.terminal,
      user: { uid: i.uid, gid: i.gid, ...(i.additionalGids.length ? { additionalGids: i.additionalGids } : {}) },
      args: i.args,
      env: i.env,
      cwd: i.cwd,
      ...(i.noNewPrivileges ? { noNewPrivileges: true } : {}),
      capabilities: {
        bounding: i.capabilities,
        effective: i.uid === 0 ? i.capabilities : [],
        permitted: i.uid === 0 ? i.capabilities : [],
      },
      ...(i.rlimits?.length ? { rlimits: i.rlimits } : {}),
    },
    root: { path: i.rootfs, readonly: i.readonlyRootfs },
    hostname: i.hostname,
    mounts,
    linux: {
      namespaces,
      // --privileged: nothing masked or read-only (as Docker)
      maskedPaths: i.privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: i.privileged ? [] : [...READONLY_PATHS],
      ...(i.seccomp ? { seccomp: i.seccomp } : {}),
      ...(i.cgroup ? { cgroupsPath: i.cgroup.path, resources: i.cgroup.resources } : {}),
      ...(i.devices?.length ? { devices: i.devices } : {}),
    },
  };
}
