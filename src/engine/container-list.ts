/**
 * GET /containers/json: the filters dockerd's ps takes and the
 * ContainerSummary it returns for each container.
 */
import { portRows } from '../network/ports.js';
import { networksOf } from '../network/endpoints.js';
import type { EndpointSettings } from '../network/settings.js';
import { BerthError, invalid } from '../core/errors.js';
import { humanDuration } from '../core/human-duration.js';
import type { ImageID } from '../core/digest.js';
import type { ImageStore } from '../image/store.js';
import { imageSize } from '../image/views.js';
import type { ContainerStore } from '../container/store.js';
import type { ContainerRecord, ContainerState, HostConfig } from '../container/types.js';
import { apiMounts } from '../container/mounts.js';
import type { ContainerListOptions, ContainerSummary, FilterMap } from './container-types.js';

const FILTERS = new Set(['status', 'name', 'id', 'ancestor', 'label', 'exited', 'before', 'since', 'health']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/** Refuse filters ps does not take, and values it cannot match, before listing (dockerd's messages). */
export function checkListFilters(filters: FilterMap): void {
  for (const [k, values] of Object.entries(filters)) {
    if (!FILTERS.has(k)) throw invalid('invalid_filter', `invalid filter '${k}'`);
    for (const v of values) {
      if (k === 'status' && !STATUSES.has(v)) throw invalid('invalid_filter', `invalid filter 'status=${v}'`);
      if (k === 'exited' && !/^-?\d+$/.test(v)) throw invalid('invalid_filter', `invalid filter 'exited=${v}'`);
    }
  }
}

function ago(t: string, now: number): string {
  return `${humanDuration(now - Date.parse(t))} ago`;
}

/** Docker's Status text ("Up 5 seconds (healthy)", "Exited (0) 3 minutes ago"). */
export function statusText(c: Pick<ContainerRecord, 'State'>, now = Date.now()): string {
  const s = c.State;
  if (s.Restarting) return `Restarting (${s.ExitCode}) ${ago(s.FinishedAt, now)}`;
  if (s.Running) {
    const health = s.Health ? ` (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})` : '';
    return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Paused ? ' (Paused)' : health}`;
  }
  if (s.Status === 'created') return 'Created';
  return `Exited (${s.ExitCode}) ${ago(s.FinishedAt, now)}`;
}

export function stateOf(s: ContainerState): ContainerSummary['State'] {
  return s.Paused ? 'paused' : s.Status;
}

function matches(c: ContainerRecord, filters: FilterMap, store: ImageStore, all: ContainerRecord[]): boolean {
  const any = (k: string, f: (v: string) => boolean) => !filters[k] || filters[k].some(f);
  const ancestorIds = (v: string): string[] => {
    const id = store.tryResolve(v);
    return id ? [id] : [];
  };
  const createdOf = (ref: string) => all.find((x) => x.Name === `/${ref}` || x.ID.startsWith(ref))?.Created;
  return (
    any('status', (v) => c.State.Status === v || (v === 'paused' && c.State.Paused)) &&
    any('name', (v) => new RegExp(v).test(c.Name.slice(1))) &&
    any('id', (v) => c.ID.startsWith(v)) &&
    any('ancestor', (v) => ancestorIds(v).includes(c.Image) || c.Config.Image === v) &&
    any('label', (v) => {
      const i = v.indexOf('=');
      const labels = c.Config.Labels ?? {};
      return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
    }) &&
    any('health', (v) => (c.State.Health?.Status ?? 'none') === v) &&
    any('exited', (v) => c.State.Status === 'exited' && c.State.ExitCode === Number(v)) &&
    any('before', (v) => {
      const t = createdOf(v);
      return !!t && c.Created < t;
    }) &&
    any('since', (v) => {
      const t = createdOf(v);
      return !!t && c.Created > t;
    })
  );
}

/** The container's HostConfig, undefined once it is removed (as hostConfigAsync). */
function hostConfigIfAny(containers: ContainerStore, id: string): HostConfig | undefined {
  try {
    return containers.hostConfig(id);
  } catch (err) {
    if (err instanceof BerthError && err.kind === 'NotFound') return undefined;
    throw err;
  }
}

/** A size that may vanish meanwhile (a container removed while listed) counts 0. */
function sizeOr0(f: () => number): number {
  try {
    return f();
  } catch {
    return 0;
  }
}

async function summary(
  containers: ContainerStore,
  c: ContainerRecord,
  size: ((dir: string) => number) | undefined,
  now: number,
  blocking: boolean,
): Promise<ContainerSummary | undefined> {
  const hc = blocking ? hostConfigIfAny(containers, c.ID) : await containers.hostConfigAsync(c.ID);
  if (!hc) return undefined; // removed while listed
  const store = containers.images;
  const rw = size ? sizeOr0(() => size(`${store.paths.cacheDir(c.MountID)}/diff`)) : 0;
  return {
    Id: c.ID,
    Names: [c.Name],
    Image: c.Config.Image || c.Image,
    ImageID: c.Image,
    Command: [c.Path, ...c.Args].join(' '),
    Created: Math.floor(Date.parse(c.Created) / 1000),
    State: stateOf(c.State),
    Status: statusText(c, now),
    // published ports while it runs, as the Engine API lists them
    Ports: portRows(c.State.Running ? c.NetworkSettings?.Ports : undefined).map((r) => ({
      ...(r.publicPort ? { IP: r.ip } : {}),
      PrivatePort: r.privatePort,
      ...(r.publicPort ? { PublicPort: r.publicPort } : {}),
      Type: r.type,
    })),
    Labels: { ...(c.Config.Labels ?? {}) },
    ...(size
      ? {
          SizeRw: rw,
          SizeRootFs: rw + sizeOr0(() => imageSize(store, c.Image as ImageID)),
        }
      : {}),
    HostConfig: { NetworkMode: hc.NetworkMode },
    NetworkSettings: { Networks: summaryNetworks(c, hc) },
    Mounts: apiMounts(c, hc),
  };
}

/**
 * A container's networks for its summary, by name in the API's (sorted) order: what its host config joins (none and
 * host as they are, the default mode as bridge, nothing on `container:`), with the live endpoint while it runs.
 */
export function summaryNetworks(
  c: Pick<ContainerRecord, 'State' | 'NetworkSettings'>,
  hc: Pick<HostConfig, 'NetworkMode' | 'BerthEndpoints'>,
): Record<string, Partial<EndpointSettings>> {
  const mode = hc.NetworkMode;
  let names: string[];
  if (mode === 'none' || mode === 'host') names = [mode];
  else names = networksOf(hc).map((n) => (n.name === 'default' ? 'bridge' : n.name));
  names = names.filter((n) => !n.startsWith('container:')).sort();
  const live = c.State.Running ? c.NetworkSettings?.Networks : undefined;
  return Object.fromEntries(names.map((n) => [n, { ...(live?.[n] ?? {}) }]));
}

/**
 * The containers, newest first: running ones only unless `all`, or a limit,
 * or a status filter other than running (which look at stopped ones too, as
 * dockerd). `known`: the containers as just listed; `blocking`: read with blocking calls (EngineOptions.blockingReads).
 */
export async function listContainers(
  containers: ContainerStore,
  opts: ContainerListOptions,
  known?: ContainerRecord[],
  blocking = false,
): Promise<ContainerSummary[]> {
  const filters = opts.filters ?? {};
  checkListFilters(filters);
  const limit = opts.limit ?? -1;
  const everything = known ?? (await containers.listAsync());
  const all =
    !!opts.all || limit > 0 || (filters.status ?? []).some((s) => s !== 'running') || filters.exited !== undefined;
  let list = everything
    .filter((c) => (all || c.State.Running) && matches(c, filters, containers.images, everything))
    .sort((a, b) => (a.Created < b.Created ? 1 : a.Created > b.Created ? -1 : 0)); // (not localeCompare: ICU's set-up costs ~9 ms)
  if (limit > 0) list = list.slice(0, limit);
  const now = Date.now();
  // (the archive modules only for --size: a plain listing loads none of them)
  const size = opts.size ? (await import('../archive/layer-apply.js')).treeSize : undefined;
  const out = await Promise.all(list.map((c) => summary(containers, c, size, now, blocking)));
  return out.filter((s): s is ContainerSummary => !!s);
}
