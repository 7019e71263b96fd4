/**
 * `container inspect`'s HostConfig with every key dockerd 20.10 prints, in its order: what berth recorded, and for
 * what it did not record the value dockerd shows for a container the docker CLI created without that flag (which is
 * what berth does then too: its own IPC and cgroup namespaces, a 64 MiB /dev/shm, Docker's masked and read-only
 * paths). Keys dockerd omits when empty (Tmpfs, Init, Mounts, Sysctls, StorageOpt) are left out when empty.
 */
import { MASKED_PATHS, READONLY_PATHS } from '../runtime/security.js';

/** dockerd 20.10's HostConfig keys in its JSON order, with the defaults it prints; `omit`: left out when empty. */
const KEYS: Array<[string, unknown] | [string, undefined, 'omit']> = [
  ['Binds', null],
  ['ContainerIDFile', ''],
  ['LogConfig', { Type: 'json-file', Config: {} }],
  ['NetworkMode', 'default'],
  ['PortBindings', {}],
  ['RestartPolicy', { Name: 'no', MaximumRetryCount: 0 }],
  ['AutoRemove', false],
  ['VolumeDriver', ''],
  ['VolumesFrom', null],
  ['CapAdd', null],
  ['CapDrop', null],
  ['CgroupnsMode', 'private'],
  ['Dns', []],
  ['DnsOptions', []],
  ['DnsSearch', []],
  ['ExtraHosts', null],
  ['GroupAdd', null],
  ['IpcMode', 'private'],
  ['Cgroup', ''],
  ['Links', null],
  ['OomScoreAdj', 0],
  ['PidMode', ''],
  ['Privileged', false],
  ['PublishAllPorts', false],
  ['ReadonlyRootfs', false],
  ['SecurityOpt', null],
  ['StorageOpt', undefined, 'omit'],
  ['Tmpfs', undefined, 'omit'],
  ['UTSMode', ''],
  ['UsernsMode', ''],
  ['ShmSize', 67108864],
  ['Sysctls', undefined, 'omit'],
  ['Runtime', 'berth'],
  ['ConsoleSize', [0, 0]],
  ['Isolation', ''],
  ['CpuShares', 0],
  ['Memory', 0],
  ['NanoCpus', 0],
  ['CgroupParent', ''],
  ['BlkioWeight', 0],
  ['BlkioWeightDevice', []],
  ['BlkioDeviceReadBps', []],
  ['BlkioDeviceWriteBps', []],
  ['BlkioDeviceReadIOps', []],
  ['BlkioDeviceWriteIOps', []],
  ['CpuPeriod', 0],
  ['CpuQuota', 0],
  ['CpuRealtimePeriod', 0],
  ['CpuRealtimeRuntime', 0],
  ['CpusetCpus', ''],
  ['CpusetMems', ''],
  ['Devices', []],
  ['DeviceCgroupRules', null],
  ['DeviceRequests', null],
  ['KernelMemory', 0],
  ['KernelMemoryTCP', 0],
  ['MemoryReservation', 0],
  ['MemorySwap', 0],
  ['MemorySwappiness', null],
  ['OomKillDisable', false],
  ['PidsLimit', null],
  ['Ulimits', []],
  ['CpuCount', 0],
  ['CpuPercent', 0],
  ['IOMaximumIOps', 0],
  ['IOMaximumBandwidth', 0],
  ['Mounts', undefined, 'omit'],
  ['MaskedPaths', MASKED_PATHS],
  ['ReadonlyPaths', READONLY_PATHS],
  ['Init', undefined, 'omit'],
];

/** The keys dockerd 20.10's container inspect always prints in HostConfig (for the unit test and the API). */
export const DOCKER_HOSTCONFIG_KEYS: readonly string[] = KEYS.filter((k) => k.length === 2).map((k) => k[0]);

/** Lists the docker CLI sends as [] when the flag is not given (a null recorded by an API client shows as []). */
const EMPTY_LISTS = new Set(KEYS.filter(([, d]) => Array.isArray(d) && d.length === 0).map(([k]) => k));

const isEmpty = (v: unknown) =>
  v === undefined ||
  v === null ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && Object.keys(v as object).length === 0);

/** The recorded HostConfig in dockerd's shape: every key, its order; berth's own keys after. */
export function inspectHostConfig(hc: object): Record<string, unknown> {
  const rec = hc as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const privileged = rec.Privileged === true;
  for (const [key, dflt, omit] of KEYS) {
    let v = rec[key];
    if (omit) {
      if (!isEmpty(v)) out[key] = v;
      continue;
    }
    // a privileged container has nothing masked or read-only, as dockerd shows it
    if ((key === 'MaskedPaths' || key === 'ReadonlyPaths') && privileged && v === undefined) v = null;
    if (v === undefined || (v === null && EMPTY_LISTS.has(key))) v = Array.isArray(dflt) ? [...dflt] : dflt;
    out[key] = v;
  }
  for (const [k, v] of Object.entries(rec)) if (!(k in out) && !KEYS.some(([key]) => key === k)) out[k] = v;
  return out;
}
