import { treeSize } from '../archive/layer-writer.js';
import { boolFilter, filtersFromMap, matchKVList, matchLabels, validateFilters } from '../core/filters.js';
import { ANONYMOUS_LABEL, type Volume, VolumeStore } from '../volume/store.js';
import type { Engine } from './engine.js';

export type { Volume } from '../volume/store.js';

/** POST /volumes/create. */
export interface VolumeCreateOptions {
  /** Default: a new anonymous name (64 hex digits). */
  Name?: string;
  /** Only "local". */
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** GET /volumes. */
export interface VolumeListResponse {
  Volumes: Volume[];
  Warnings: string[];
}

/** POST /volumes/prune. */
export interface VolumePruneResponse {
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}

const LIST_FILTERS = ['dangling', 'name', 'label', 'driver'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

/**
 * Volumes, as dockerd's /volumes endpoints: local volumes in Docker's layout
 * (volume/store.ts). Create, remove and prune run under the store lock, the lock
 * a container create takes while it makes or names its volumes, so a volume is
 * never removed while a container comes to use it.
 */
export class Volumes {
  constructor(readonly engine: Engine) {}

  private get store(): VolumeStore {
    return this.engine.containerStore.volumes;
  }

  /** The containers that use each volume (by name). */
  private users(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const c of this.engine.containerStore.list())
      for (const m of Object.values(c.MountPoints ?? {}))
        if (m.Type === 'volume' && m.Name) out.set(m.Name, [...(out.get(m.Name) ?? []), c.ID]);
    return out;
  }

  /** GET /volumes: `dangling` (used by no container), `name` (a substring), `label`, `driver`. */
  list(opts: { filters?: Record<string, string[]> } = {}): VolumeListResponse {
    const filters = filtersFromMap(opts.filters);
    validateFilters(filters, LIST_FILTERS);
    const dangling = filters.has('dangling') ? boolFilter(filters, 'dangling', false) : undefined;
    const users = dangling === undefined ? undefined : this.users();
    const names = [...(filters.get('name') ?? [])];
    const drivers = filters.get('driver');
    const Volumes = this.store
      .list()
      .filter(
        (v) =>
          (names.length === 0 || names.some((n) => v.Name.includes(n))) &&
          (!drivers || drivers.has(v.Driver)) &&
          matchKVList(filters, 'label', v.Labels) &&
          (dangling === undefined || dangling === !users!.has(v.Name)),
      )
      .sort((a, b) => a.Name.localeCompare(b.Name));
    return { Volumes, Warnings: [] };
  }

  /** GET /volumes/{name}. */
  inspect(name: string): Volume {
    return this.store.require(name);
  }

  /** POST /volumes/create: a volume that exists already is returned as it is, as dockerd does. */
  async create(opts: VolumeCreateOptions = {}): Promise<Volume> {
    const v = await this.engine.store.lock(
      () =>
        this.store.create(opts.Name || undefined, {
          ...(opts.Driver ? { driver: opts.Driver } : {}),
          ...(opts.DriverOpts ? { driverOpts: opts.DriverOpts } : {}),
          ...(opts.Labels ? { labels: opts.Labels } : {}),
        }).volume,
    );
    this.engine.events.emit('volume', 'create', v.Name, { driver: v.Driver });
    return v;
  }

  /** DELETE /volumes/{name}: never one a container uses; `force` makes a missing volume no error. */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.engine.store.lock(() => {
      if (!this.store.get(name)) {
        if (opts.force) return;
        this.store.require(name);
      }
      const ids = this.users().get(name);
      if (ids?.length) throw VolumeStore.inUse(name, ids);
      this.store.remove(name);
      this.engine.events.emit('volume', 'destroy', name, { driver: 'local' });
    });
  }

  /**
   * POST /volumes/prune: the volumes no container uses; only anonymous ones unless the
   * `all` filter is true (Docker 23's rule), and only those the label filters keep.
   */
  async prune(opts: { filters?: Record<string, string[]> } = {}): Promise<VolumePruneResponse> {
    const filters = checkVolumePruneFilters(opts.filters);
    const all = boolFilter(filters, 'all', false);
    return this.engine.store.lock(() => {
      const users = this.users();
      const out: VolumePruneResponse = { VolumesDeleted: [], SpaceReclaimed: 0 };
      for (const v of this.store.list()) {
        if (users.has(v.Name) || !matchLabels(filters, v.Labels)) continue;
        if (!all && !(ANONYMOUS_LABEL in v.Labels)) continue;
        const size = sizeOf(v.Mountpoint);
        this.store.remove(v.Name);
        this.engine.events.emit('volume', 'destroy', v.Name, { driver: v.Driver });
        out.VolumesDeleted.push(v.Name);
        out.SpaceReclaimed += size;
      }
      return out;
    });
  }

  /** What /system/df says of volumes: each with its size and how many containers use it. */
  usage(): Array<Volume & { UsageData: { Size: number; RefCount: number } }> {
    const users = this.users();
    return this.store
      .list()
      .map((v) => ({ ...v, UsageData: { Size: sizeOf(v.Mountpoint), RefCount: users.get(v.Name)?.length ?? 0 } }));
  }
}

/** The filters `prune` takes (label, label!, all), or InvalidArgument: for a caller that asks first. */
export function checkVolumePruneFilters(map: Record<string, string[]> = {}) {
  const filters = filtersFromMap(map);
  validateFilters(filters, PRUNE_FILTERS);
  boolFilter(filters, 'all', false);
  return filters;
}

function sizeOf(dir: string): number {
  try {
    return treeSize(dir);
  } catch {
    return 0;
  }
}
