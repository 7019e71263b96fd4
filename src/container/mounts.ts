/**
 * A container's mounts as Docker keeps them: `-v` and the image's VOLUMEs become
 * MountPoints in config.v2.json at create (binds, named volumes made when missing,
 * anonymous volumes), which start, cp, inspect and rm read back. Parsing is pure;
 * resolving a create's mounts makes volumes, under the store lock, in the create's
 * transaction.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { invalid } from '../core/errors.js';
import type { Txn } from '../storage/txn.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import { ANONYMOUS_LABEL, checkVolumeName, type VolumeStore } from '../volume/store.js';
import type { ApiMount, ContainerRecord, HostConfig, MountPoint } from './types.js';

/** What one `-v` or `--mount` asks for (a tmpfs `--mount` is the spec's, not a MountPoint). */
export type MountRequest =
  | { type: 'bind'; source: string; destination: string; readonly: boolean; mode: string; propagation?: string }
  | {
      type: 'volume';
      name?: string;
      destination: string;
      readonly: boolean;
      nocopy: boolean;
      mode: string;
      labels?: Record<string, string>;
    };

const PROPAGATION = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];

/**
 * `-v` as Docker's Linux parser reads it: `/ctr` (an anonymous volume), `NAME:/ctr`
 * (a named volume), `/host:/ctr` (a bind), each with `:MODE` (ro|rw, z|Z, nocopy for
 * volumes, a propagation for binds). Pure.
 */
export function parseVolumeFlag(v: string): MountRequest {
  const bad = (why: string) =>
    invalid('invalid_volume', `invalid volume specification: '${v}'${why ? `: ${why}` : ''}`);
  const parts = v.split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p === '')) throw bad('');
  if (parts.length === 1) {
    if (!parts[0]!.startsWith('/')) throw bad('the container path must be absolute');
    return { type: 'volume', destination: clean(parts[0]!), readonly: false, nocopy: false, mode: '' };
  }
  const [source, destination, mode = ''] = parts as [string, string, string?];
  if (!destination.startsWith('/')) throw bad('the container path must be absolute');
  if (clean(destination) === '/') throw bad('invalid mount config: destination can\'t be "/"');
  const flags = mode ? mode.split(',') : [];
  let rw = 0;
  let label = 0;
  let prop = 0;
  let nocopy = false;
  for (const f of flags) {
    if (f === 'ro' || f === 'rw') rw++;
    else if (f === 'z' || f === 'Z') label++;
    else if (PROPAGATION.includes(f)) prop++;
    else if (f === 'nocopy' && !source.startsWith('/')) nocopy = true;
    else throw invalid('invalid_volume', `invalid mode: ${mode}`);
  }
  if (rw > 1 || label > 1 || prop > 1) throw invalid('invalid_volume', `invalid mode: ${mode}`);
  const readonly = flags.includes('ro');
  if (source.startsWith('/')) return { type: 'bind', source, destination: clean(destination), readonly, mode };
  if (prop) throw invalid('invalid_volume', `invalid mode: ${mode}: propagation applies to binds only`);
  checkVolumeName(source);
  return { type: 'volume', name: source, destination: clean(destination), readonly, nocopy, mode };
}

/** A `--mount` of type bind or volume as a request; a tmpfs gives undefined (the spec mounts it). */
export function fromApiMount(m: ApiMount): MountRequest | undefined {
  const bad = (why: string) => invalid('invalid_mount', `invalid mount config for type "${m.Type}": ${why}`);
  if (typeof m.Target !== 'string' || !m.Target) throw bad('field Target must not be empty');
  if (!m.Target.startsWith('/')) throw bad(`invalid mount path: '${m.Target}' mount path must be absolute`);
  const destination = clean(m.Target);
  if (destination === '/') throw bad("invalid specification: destination can't be '/'");
  const readonly = !!m.ReadOnly;
  if (m.Type === 'tmpfs') {
    if (m.Source) throw bad('field Source must not be specified');
    return undefined;
  }
  if (m.Type === 'bind') {
    if (!m.Source) throw bad('field Source must not be empty');
    if (!m.Source.startsWith('/')) throw bad(`invalid mount path: '${m.Source}' mount path must be absolute`);
    if (!fs.existsSync(m.Source)) throw bad(`bind source path does not exist: ${m.Source}`);
    const propagation = m.BindOptions?.Propagation;
    if (propagation && !PROPAGATION.includes(propagation)) throw bad(`invalid propagation mode: ${propagation}`);
    return { type: 'bind', source: m.Source, destination, readonly, mode: '', ...(propagation ? { propagation } : {}) };
  }
  if (m.Type === 'volume') {
    if (m.Source) checkVolumeName(m.Source);
    return {
      type: 'volume',
      ...(m.Source ? { name: m.Source } : {}),
      destination,
      readonly,
      nocopy: !!m.VolumeOptions?.NoCopy,
      mode: '',
      ...(m.VolumeOptions?.Labels ? { labels: m.VolumeOptions.Labels } : {}),
    };
  }
  throw invalid('invalid_mount', `mount type unknown: ${JSON.stringify(m.Type)}`);
}

/** The tmpfs mounts of a container: `--tmpfs` and `--mount type=tmpfs`, as the spec's options. */
export function tmpfsMounts(hc: HostConfig): Array<{ destination: string; options: string[] }> {
  const out = Object.entries(hc.Tmpfs ?? {}).map(([destination, o]) => ({
    destination,
    options: ['nosuid', 'nodev', 'noexec', ...(o ? o.split(',') : [])],
  }));
  for (const m of hc.Mounts ?? []) {
    if (m.Type !== 'tmpfs') continue;
    const o = m.TmpfsOptions ?? {};
    out.push({
      destination: clean(m.Target),
      // Docker's tmpfs mounts from --mount are not noexec
      options: [
        'nosuid',
        'nodev',
        ...(m.ReadOnly ? ['ro'] : []),
        ...(o.SizeBytes ? [`size=${o.SizeBytes}`] : []),
        ...(o.Mode ? [`mode=${o.Mode.toString(8)}`] : []),
      ],
    });
  }
  return out;
}

/** "/a/b/" -> "/a/b", "/a//b/./c" -> "/a/b/c". */
function clean(p: string): string {
  const out: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return `/${out.join('/')}`;
}

/**
 * Check a create's `-v` and `--mount` lists and the image's volumes together (no two
 * mounts on one path; a `--mount` bind's source must exist, as Docker's). Pure but for
 * that check.
 */
export function mountRequests(
  hc: Pick<HostConfig, 'Binds' | 'Mounts' | 'Tmpfs'>,
  imageVolumes: readonly string[],
): MountRequest[] {
  const out: MountRequest[] = [];
  const seen = new Set<string>(Object.keys(hc.Tmpfs ?? {}).map(clean));
  const take = (m: MountRequest) => {
    if (seen.has(m.destination)) throw invalid('duplicate_mount', `Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
    out.push(m);
  };
  for (const v of hc.Binds ?? []) take(parseVolumeFlag(v));
  for (const m of hc.Mounts ?? []) {
    const r = fromApiMount(m);
    if (r) take(r);
    else if (seen.has(clean(m.Target))) throw invalid('duplicate_mount', `Duplicate mount point: ${clean(m.Target)}`);
    else seen.add(clean(m.Target));
  }
  // the image's VOLUMEs that no -v covers are anonymous volumes, filled from the image (Docker's copy-up)
  for (const d of imageVolumes) {
    const dest = clean(d);
    if (dest === '/' || seen.has(dest)) continue;
    seen.add(dest);
    out.push({ type: 'volume', destination: dest, readonly: false, nocopy: false, mode: '' });
  }
  return out;
}

/** `--volumes-from CONTAINER[:ro|rw]`. Pure. */
export function parseVolumesFrom(v: string): { container: string; mode?: 'ro' | 'rw' } {
  const i = v.lastIndexOf(':');
  if (i < 0) return { container: v };
  const mode = v.slice(i + 1);
  if (mode !== 'ro' && mode !== 'rw') throw invalid('invalid_volume', `invalid mode: ${mode}`);
  if (i === 0) throw invalid('invalid_volume', `invalid volumes-from: ${JSON.stringify(v)}`);
  return { container: v.slice(0, i), mode };
}

/**
 * The MountPoints `--volumes-from` brings: each named container's binds and volumes
 * (read-only or writable as given, else as they are there), never copied up again.
 */
export function inheritedMountPoints(
  specs: readonly string[],
  resolve: (ref: string) => ContainerRecord,
): Record<string, MountPoint> {
  const out: Record<string, MountPoint> = {};
  for (const spec of specs) {
    const { container, mode } = parseVolumesFrom(spec);
    for (const m of Object.values(resolve(container).MountPoints ?? {})) {
      const { CopyData: _copied, ...rest } = m;
      out[m.Destination] = mode ? { ...rest, RW: mode === 'rw' } : rest;
    }
  }
  return out;
}

/**
 * The MountPoints of a container being created: binds as they are, named volumes
 * made when missing, anonymous ones made under a new name (labelled as Docker labels
 * them). Volumes made here are journaled in `txn`. Call under the store lock.
 */
export function createMountPoints(
  volumes: VolumeStore,
  requests: MountRequest[],
  txn: Txn,
): Record<string, MountPoint> {
  const out: Record<string, MountPoint> = {};
  for (const m of requests) {
    if (m.type === 'bind') {
      out[m.destination] = {
        Source: m.source,
        Destination: m.destination,
        RW: !m.readonly,
        Name: '',
        Driver: '',
        Type: 'bind',
        Mode: m.mode,
        Relabel: '',
        Propagation: m.propagation ?? m.mode.split(',').find((f) => PROPAGATION.includes(f)) ?? 'rprivate',
        Spec: { Type: 'bind', Source: m.source, Target: m.destination, ...(m.readonly ? { ReadOnly: true } : {}) },
      };
      continue;
    }
    const labels = m.name ? { ...m.labels } : { ...m.labels, [ANONYMOUS_LABEL]: '' };
    const { volume } = volumes.create(m.name, { labels }, txn);
    out[m.destination] = {
      Source: volume.Mountpoint,
      Destination: m.destination,
      RW: !m.readonly,
      Name: volume.Name,
      Driver: 'local',
      Type: 'volume',
      Mode: m.mode,
      Relabel: '',
      Propagation: '',
      Spec: {
        Type: 'volume',
        ...(m.name ? { Source: m.name } : {}),
        Target: m.destination,
        ...(m.readonly ? { ReadOnly: true } : {}),
      },
      ...(m.nocopy ? {} : { CopyData: true }),
    };
  }
  return out;
}

/**
 * A container's mounts, parents before children: its MountPoints, or for a container
 * created before berth kept them, its binds.
 */
export function mountsOf(r: ContainerRecord, hc: HostConfig): MountPoint[] {
  const mps = r.MountPoints ? Object.values(r.MountPoints) : createMountPointsOfBinds(hc.Binds ?? []);
  return mps.sort((a, b) => depth(a.Destination) - depth(b.Destination));
}

function createMountPointsOfBinds(binds: string[]): MountPoint[] {
  return binds.flatMap((b) => {
    const m = parseVolumeFlag(b);
    if (m.type !== 'bind') return [];
    return [
      {
        Source: m.source,
        Destination: m.destination,
        RW: !m.readonly,
        Name: '',
        Driver: '',
        Type: 'bind' as const,
        Mode: m.mode,
        Relabel: '',
        Propagation: 'rprivate',
        Spec: { Type: 'bind', Source: m.source, Target: m.destination },
      },
    ];
  });
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

/** The names of the anonymous volumes a container made (what `rm -v` and `--rm` remove). */
export function anonymousVolumes(r: ContainerRecord): string[] {
  return Object.values(r.MountPoints ?? {})
    .filter((m) => m.Type === 'volume' && m.Spec.Source === undefined && m.Name)
    .map((m) => m.Name);
}

/** Whether a container's MountPoints name the volume. */
export function usesVolume(r: ContainerRecord, name: string): boolean {
  return Object.values(r.MountPoints ?? {}).some((m) => m.Type === 'volume' && m.Name === name);
}

/** inspect's and /containers/json's Mounts. */
export function apiMounts(r: ContainerRecord, hc: HostConfig) {
  return mountsOf(r, hc).map((m) =>
    m.Type === 'volume'
      ? {
          Type: 'volume' as const,
          Name: m.Name,
          Source: m.Source,
          Destination: m.Destination,
          Driver: m.Driver,
          Mode: m.Mode,
          RW: m.RW,
          Propagation: m.Propagation,
        }
      : {
          Type: 'bind' as const,
          Source: m.Source,
          Destination: m.Destination,
          Mode: m.Mode,
          RW: m.RW,
          Propagation: m.Propagation,
        },
  );
}

/**
 * Docker's copy-up: a volume that is still empty gets what the image has at its
 * mount point (owners, modes, times, xattrs, links kept), before the container first
 * sees it; `nocopy` volumes and paths the image lacks are left alone. The mount
 * point is resolved inside the mounted rootfs (an image's symlink cannot point the
 * copy at the host), and GNU cp -a copies without following the tree's own links.
 */
export function copyUp(rootfs: string, mp: MountPoint): void {
  if (mp.Type !== 'volume' || !mp.CopyData) return;
  let entries: string[];
  try {
    entries = fs.readdirSync(mp.Source);
  } catch {
    return;
  }
  if (entries.length) return;
  const src = resolveInRoot(rootfs, mp.Destination);
  if (!fs.statSync(src, { throwIfNoEntry: false })?.isDirectory()) return;
  const r = spawnSync('cp', ['-a', '--', `${src}/.`, `${mp.Source}/`], { encoding: 'utf8' });
  if (r.status !== 0)
    throw invalid('volume_copy', `copy ${mp.Destination} of the image into volume ${mp.Name}: ${r.stderr.trim()}`);
}
