import { readFileSync } from 'node:fs';
import { invalid } from '../core/errors.js';

/** Linux capability numbers (include/uapi/linux/capability.h). */
export const CAPS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** Docker's default capability set. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Docker's default masked paths (made unreadable) and read-only paths. */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** `--cap-add`/`--cap-drop` names: "NET_ADMIN", "cap_net_admin", or ALL. */
function capName(s: string): string {
  const n = s.toUpperCase().startsWith('CAP_') ? s.toUpperCase() : `CAP_${s.toUpperCase()}`;
  if (n !== 'CAP_ALL' && !(n in CAPS)) throw invalid('invalid_capability', `unknown capability: ${JSON.stringify(s)}`);
  return n;
}

/** The container's capability set, as Docker computes it from the defaults, --cap-add, --cap-drop and --privileged. */
export function capabilitySet(add: string[], drop: string[], privileged: boolean): string[] {
  const all = Object.keys(CAPS);
  if (privileged) return all;
  const adds = add.map(capName),
    drops = drop.map(capName);
  let caps = drops.includes('CAP_ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c));
  caps = adds.includes('CAP_ALL')
    ? all.filter((c) => !drops.includes(c) || adds.includes(c))
    : [...new Set([...caps, ...adds])];
  return caps.sort((a, b) => CAPS[a]! - CAPS[b]!);
}

/** Capabilities this process holds (CapPrm of /proc/self/status): a container cannot get more. */
export function ownCapabilities(status = readStatus()): Set<string> {
  const mask = ownCapabilityMask(status);
  return new Set(
    Object.entries(CAPS)
      .filter(([, n]) => (mask >> BigInt(n)) & 1n)
      .map(([name]) => name),
  );
}

/** This process's permitted capabilities as a bit mask (CapPrm). */
export function ownCapabilityMask(status = readStatus()): bigint {
  const m = /^CapPrm:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

/** The value of `seccomp=` in a container's SecurityOpt (unconfined, builtin or a profile's JSON), if any. */
export function seccompOption(securityOpt: readonly string[] | null | undefined): string | undefined {
  const o = (securityOpt ?? []).find((x) => x.startsWith('seccomp=') || x.startsWith('seccomp:'));
  return o?.slice('seccomp='.length);
}

/** Whether a container's SecurityOpt asks for no_new_privs. */
export function noNewPrivileges(securityOpt: readonly string[] | null | undefined): boolean {
  return (securityOpt ?? []).some((o) => /^no-new-privileges([:=]true)?$/.test(o));
}
