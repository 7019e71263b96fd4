/**
 * /version, /info, /system/df and /build/prune: what the engine says about itself, its host and its store. The CLI's
 * `version`, `info`, `system df` and `builder prune` print these; the Engine API daemon will serve them as they are.
 * (The work is in system-info.ts, loaded with the first call: other commands do not pay for its modules.)
 */
import { type Filters, validateFilters } from '../core/filters.js';
import type { Engine } from './engine.js';
import type { SystemImpl } from './system-info.js';
import type {
  BuildCachePruneResponse,
  BuildCacheRecord,
  DiskUsage,
  SystemInfo,
  VersionResponse,
} from './system-types.js';

/** The filters `builder prune` takes that apply to berth's build cache (unused-for: until's older name). */
export const BUILD_PRUNE_FILTERS = ['until', 'unused-for'] as const;

/** Refuse filters builder prune does not take (before the CLI asks its question); `unused-for` read as `until`. */
export function checkBuildPruneFilters(filters: Filters): Filters {
  validateFilters(filters, BUILD_PRUNE_FILTERS);
  const out: Filters = new Map();
  for (const [k, v] of filters) out.set(k === 'unused-for' ? 'until' : k, new Set([...(out.get('until') ?? []), ...v]));
  return out;
}

export class System {
  private impl?: Promise<SystemImpl>;

  constructor(private readonly engine: Engine) {}

  private load(): Promise<SystemImpl> {
    return (this.impl ??= import('./system-info.js').then((m) => new m.SystemImpl(this.engine)));
  }

  /** GET /version: the engine, the OCI runtimes it runs (berth's helper, runc when installed). */
  async version(): Promise<VersionResponse> {
    return (await this.load()).version();
  }

  /** GET /info: counts, storage driver status, cgroups, host, registries, runtimes, security options, warnings. */
  async info(): Promise<SystemInfo> {
    return (await this.load()).info();
  }

  /** GET /system/df: images, containers (with sizes), volumes and berth's build cache (partial downloads). */
  async df(): Promise<DiskUsage> {
    return (await this.load()).df();
  }

  /** berth's build cache: the partial downloads of interrupted pulls (see system-info.ts). */
  async buildCache(): Promise<BuildCacheRecord[]> {
    return (await this.load()).buildCache();
  }

  /** POST /build/prune: the build cache no pull holds (`until` keeps what was written since). */
  async buildPrune(opts: { filters?: Filters; all?: boolean } = {}): Promise<BuildCachePruneResponse> {
    const filters = checkBuildPruneFilters(opts.filters ?? new Map());
    return (await this.load()).buildPrune({ ...opts, filters });
  }
}
