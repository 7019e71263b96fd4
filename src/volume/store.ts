/**
 * Named and anonymous volumes in Docker's local-driver layout: volumes/<name>/_data
 * is the volume's content (what containers mount), volumes/<name>/opts.json its
 * driver options when it has any, so dockerd started on the store lists and
 * mounts the same volumes. What dockerd keeps in its bbolt database (labels,
 * creation time) berth keeps in its own file beside the content,
 * volumes/<name>/berth.json, which dockerd ignores. A volume appears by one
 * rename of a staged directory and disappears by one rename out of the way:
 * a reader sees all of it or none.
 *
 * Callers hold the store lock around create and remove (so that a container
 * create that names a volume and a `volume rm` cannot interleave).
 */
import * as fs from 'node:fs';
import { conflict, invalid, notFound } from '../core/errors.js';
import { mkdirp, randomHex, readOptional, removeAll } from '../storage/fsutil.js';
import type { StorePaths } from '../storage/paths.js';
import type { Txn } from '../storage/txn.js';

/** Docker's local volume names. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** The label Docker (23+) puts on anonymous volumes; `volume prune` without -a removes only those. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** GET /volumes/{name}: Docker's Volume object. */
export interface Volume {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
}

interface Meta {
  CreatedAt: string;
  Labels: Record<string, string>;
}

/** A volume name as Docker's local driver accepts it, or its error. */
export function checkVolumeName(name: string): string {
  if (!NAME_RE.test(name))
    throw invalid(
      'invalid_volume_name',
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  return name;
}

export class VolumeStore {
  constructor(readonly paths: StorePaths) {}

  /** volumes/<name>: the volume's own directory. */
  dir(name: string): string {
    return `${this.paths.volumes}/${name}`;
  }

  /** What containers mount: volumes/<name>/_data. */
  dataDir(name: string): string {
    return `${this.dir(name)}/_data`;
  }

  get(name: string): Volume | undefined {
    if (!NAME_RE.test(name)) return undefined;
    const dir = this.dir(name);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(`${dir}/_data`);
    } catch {
      return undefined;
    }
    const meta = parseJSON<Partial<Meta>>(readOptional(`${dir}/berth.json`)) ?? {};
    return {
      // a volume dockerd made has no berth.json: its content dir's change time stands for its creation
      CreatedAt: typeof meta.CreatedAt === 'string' ? meta.CreatedAt : secondsISO(st.ctime),
      Driver: 'local',
      Labels: meta.Labels && typeof meta.Labels === 'object' ? meta.Labels : {},
      Mountpoint: `${dir}/_data`,
      Name: name,
      Options: driverOptions(readOptional(`${dir}/opts.json`)),
      Scope: 'local',
    };
  }

  require(name: string): Volume {
    const v = this.get(name);
    if (!v) throw notFound('volume_not_found', `get ${name}: no such volume`);
    return v;
  }

  list(): Volume[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.paths.volumes);
    } catch {
      return [];
    }
    return names.flatMap((n) => {
      const v = this.get(n);
      return v ? [v] : [];
    });
  }

  /**
   * Create `name` (a new anonymous name when undefined) unless it exists: staged in
   * berth/tmp and renamed into volumes/. With `txn`, a volume this call makes is
   * journaled, so a container create that fails later takes it away again.
   * `created` says whether it was made now. Call under the store lock.
   */
  create(
    name: string | undefined,
    opts: { labels?: Record<string, string>; driver?: string; driverOpts?: Record<string, string> } = {},
    txn?: Txn,
  ): { volume: Volume; created: boolean } {
    if (opts.driver && opts.driver !== 'local')
      throw notFound(
        'volume_driver',
        `error looking up volume plugin ${opts.driver}: plugin "${opts.driver}" not found`,
      );
    const driverOpts = checkDriverOptions(opts.driverOpts ?? {});
    const n = name === undefined ? randomHex() : checkVolumeName(name);
    const have = this.get(n);
    if (have) return { volume: have, created: false };
    const stage = `${this.paths.tmp}/volume-${randomHex(8)}`;
    if (txn) {
      txn.add({ op: 'tmp', path: stage });
      txn.add({ op: 'volume', name: n });
    }
    mkdirp(this.paths.volumes, 0o701);
    mkdirp(`${stage}/_data`, 0o755);
    fs.chmodSync(stage, 0o701);
    try {
      const meta: Meta = { CreatedAt: secondsISO(new Date()), Labels: { ...opts.labels } };
      fs.writeFileSync(`${stage}/berth.json`, JSON.stringify(meta), { mode: 0o600 });
      // the local driver's options as dockerd writes them, so that dockerd mounts the volume alike
      if (driverOpts)
        fs.writeFileSync(
          `${stage}/opts.json`,
          JSON.stringify({
            MountType: driverOpts.type ?? '',
            MountOpts: driverOpts.o ?? '',
            MountDevice: driverOpts.device ?? '',
            Quota: { Size: 0 },
          }),
          { mode: 0o600 },
        );
      fs.renameSync(stage, this.dir(n));
    } catch (err) {
      removeAll(stage);
      throw err;
    }
    return { volume: this.get(n)!, created: true };
  }

  /** Remove a volume the caller found unused: renamed out of volumes/ first, then deleted. Call under the store lock. */
  remove(name: string): void {
    if (!this.get(name)) throw notFound('volume_not_found', `get ${name}: no such volume`);
    const gone = `${this.paths.tmp}/volume-rm-${randomHex(8)}`;
    mkdirp(this.paths.tmp, 0o700);
    fs.renameSync(this.dir(name), gone);
    removeAll(gone);
  }

  /** The error for removing a volume that containers use (Docker's message). */
  static inUse(name: string, ids: string[]): Error {
    return conflict('volume_in_use', `remove ${name}: volume is in use - [${ids.join(', ')}]`);
  }
}

/**
 * `volume create -o` of the local driver: `type`, `device` and `o`, as mount(8) takes them
 * (`type=tmpfs,device=tmpfs,o=size=64m`, `type=none,o=bind,device=/srv/data`); undefined
 * when there are none. Other keys are refused, as dockerd refuses them.
 */
export function checkDriverOptions(o: Record<string, string>): Record<string, string> | undefined {
  const keys = Object.keys(o);
  if (!keys.length) return undefined;
  for (const k of keys)
    if (k !== 'type' && k !== 'device' && k !== 'o') throw invalid('volume_options', `invalid option key: "${k}"`);
  if (!o.type) throw invalid('volume_options', 'missing required option: "type"');
  if (o.type === 'none' || (o.o ?? '').split(',').includes('bind')) {
    if (!o.device?.startsWith('/'))
      throw invalid(
        'volume_options',
        `a bind volume needs an absolute device path, not ${JSON.stringify(o.device ?? '')}`,
      );
  }
  return { ...o };
}

/**
 * How a container mounts a volume that has local driver options: a bind of the device
 * (type none or o=bind), else a mount of that type (its own, in the container: berth has
 * no daemon to keep one mounted at _data between containers). Pure.
 */
export function optionMount(opts: Record<string, string>): {
  bind: boolean;
  source: string;
  type: string;
  data: string[];
} {
  const o = (opts.o ?? '').split(',').filter(Boolean);
  if (opts.type === 'none' || o.includes('bind')) return { bind: true, source: opts.device!, type: 'bind', data: [] };
  return { bind: false, source: opts.device || opts.type!, type: opts.type!, data: o };
}

function parseJSON<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** opts.json of Docker's local driver ({MountType, MountOpts, MountDevice}) as `volume create -o` keys. */
function driverOptions(text: string | undefined): Record<string, string> | null {
  const o = parseJSON<{ MountType?: string; MountOpts?: string; MountDevice?: string }>(text);
  if (!o) return null;
  const out: Record<string, string> = {};
  if (o.MountType) out.type = o.MountType;
  if (o.MountOpts) out.o = o.MountOpts;
  if (o.MountDevice) out.device = o.MountDevice;
  return out;
}

/** Docker's volume CreatedAt: RFC 3339 with seconds and the zone ("2026-12-07T22:40:01Z"). */
function secondsISO(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}
