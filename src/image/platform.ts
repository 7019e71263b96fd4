import * as fs from 'node:fs';

/**
 * OCI platforms and which of them this host runs, as containerd's platforms
 * package decides for Docker 25+ (`platforms.Only(host)`): the host's exact
 * os/arch/variant first, then what it can also run (amd64/v3 -> v2 -> v1 ->
 * 386; arm64 -> arm/v8 -> v7 -> v6 -> v5; arm/v7 -> v6 -> v5).
 */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Node's process.arch as Go's GOARCH, the architecture an image config names. */
export function goArch(): string {
  return (
    (
      {
        x64: 'amd64',
        arm64: 'arm64',
        arm: 'arm',
        ia32: '386',
        ppc64: 'ppc64le',
        s390x: 's390x',
        riscv64: 'riscv64',
      } as Record<string, string>
    )[process.arch] ?? process.arch
  );
}

/** containerd's Normalize: aliases folded, default variants made explicit or dropped. */
export function normalizePlatform(p: Platform): Required<Platform> {
  const os = (p.os || 'linux').toLowerCase() === 'macos' ? 'darwin' : (p.os || 'linux').toLowerCase();
  let arch = (p.architecture ?? '').toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (['8', 'v8', 'v8.0'].includes(variant)) variant = '';
      else if (['9', '9.0', 'v9.0'].includes(variant)) variant = 'v9';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (['5', '6', '8'].includes(variant)) variant = `v${variant}`;
      break;
  }
  return { os, architecture: arch, variant };
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown';
  return [p.os || '?', p.architecture || '?', ...(p.variant ? [p.variant] : [])].join('/');
}

let cachedHost: Required<Platform> | undefined;

/** This host: linux, its architecture, and the variant Docker detects (amd64 microarchitecture level, arm version). */
export function hostPlatform(): Required<Platform> {
  cachedHost ??= normalizePlatform({ os: 'linux', architecture: goArch(), variant: hostVariant(goArch()) });
  return cachedHost;
}

function hostVariant(arch: string): string {
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
  if (arch === 'amd64') return amd64Level(new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/)));
  if (arch === 'arm') {
    const v = /^CPU architecture\s*:\s*(\d+)/m.exec(cpuinfo)?.[1];
    return v ? `v${Math.min(Number(v), 8)}` : '';
  }
  return '';
}

// x86-64 microarchitecture levels (the psABI's), by the CPU flags Linux reports
const AMD64_LEVELS: Array<[string, string[]]> = [
  ['v4', ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl']],
  ['v3', ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave']],
  ['v2', ['cx16', 'lahf_lm', 'popcnt', 'pni', 'sse4_1', 'sse4_2', 'ssse3']],
];

function amd64Level(flags: Set<string>): string {
  let level = 'v1';
  for (const [name, needs] of [...AMD64_LEVELS].reverse()) {
    if (!needs.every((f) => flags.has(f))) break;
    level = name;
  }
  return level;
}

/** containerd's platformVector: the platforms a host runs, best first. */
export function platformVector(host: Required<Platform>): Array<Required<Platform>> {
  const { os } = host;
  const num = (v: string) => Number.parseInt(v.replace(/^v/, ''), 10);
  const out: Array<Required<Platform>> = [];
  if (host.architecture === 'amd64') {
    for (let n = Number.isNaN(num(host.variant)) ? 1 : num(host.variant); n >= 1; n--)
      out.push({ os, architecture: 'amd64', variant: n === 1 ? '' : `v${n}` });
    out.push({ os, architecture: '386', variant: '' });
  } else if (host.architecture === 'arm64') {
    out.push({ os, architecture: 'arm64', variant: host.variant });
    if (host.variant === 'v9') out.push({ os, architecture: 'arm64', variant: '' });
    for (let n = 8; n >= 5; n--) out.push({ os, architecture: 'arm', variant: `v${n}` });
  } else if (host.architecture === 'arm') {
    for (let n = Number.isNaN(num(host.variant)) ? 7 : num(host.variant); n >= 5; n--)
      out.push({ os, architecture: 'arm', variant: `v${n}` });
  } else {
    out.push(host);
  }
  return out;
}

/** How well the host runs `p`: 0 is best, -1 is not at all. */
export function platformRank(p: Platform, host: Required<Platform> = hostPlatform()): number {
  const n = normalizePlatform(p);
  return platformVector(host).findIndex(
    (h) => h.os === n.os && h.architecture === n.architecture && h.variant === n.variant,
  );
}
