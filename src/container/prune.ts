import { treeSize } from '../archive/layer-apply.js';
import { BerthError } from '../core/errors.js';
import { type Filters, matchLabels, untilFilter, validateFilters } from '../core/filters.js';
import type { ContainerStore } from './store.js';

/** The filters `container prune` takes (dockerd's containersAcceptedFilters). */
export const CONTAINER_PRUNE_FILTERS = ['label', 'label!', 'until'] as const;

/** A checked prune request: refused filters and values fail here, before anything is deleted. */
export interface ContainerPrunePlan {
  until?: number;
  filters: Filters;
}

export function containerPrunePlan(filters: Filters, now: number = Date.now()): ContainerPrunePlan {
  validateFilters(filters, CONTAINER_PRUNE_FILTERS);
  const until = untilFilter(filters, now);
  return { filters, ...(until !== undefined ? { until } : {}) };
}

export interface ContainerPruneReport {
  deleted: string[];
  reclaimed: number;
}

/**
 * dockerd's container prune: every container not running, created no later
 * than `until`, whose labels pass the label filters, is removed, newest first.
 * Reclaimed space is the size of their rw layers. The victims are chosen under
 * the store lock and hold their run locks until removed, so none of them can be
 * started meanwhile; one running or being started then is left.
 */
export async function pruneContainers(
  containers: ContainerStore,
  plan: ContainerPrunePlan,
): Promise<ContainerPruneReport> {
  const report: ContainerPruneReport = { deleted: [], reclaimed: 0 };
  const victims = await containers.claimStopped(
    (c) =>
      (plan.until === undefined || Date.parse(c.Created) <= plan.until) && matchLabels(plan.filters, c.Config.Labels),
  );
  for (const { record: c, runLock } of victims.sort((a, b) => b.record.Created.localeCompare(a.record.Created))) {
    const size = rwLayerSize(`${containers.images.paths.cacheDir(c.MountID)}/diff`);
    try {
      await containers.remove(c, runLock);
    } catch (err) {
      runLock.release();
      if (err instanceof BerthError) continue;
      throw err;
    }
    report.deleted.push(c.ID);
    report.reclaimed += size;
  }
  return report;
}

/** The rw layer's size as dockerd counts it (files, hard links once); 0 when it is gone. */
function rwLayerSize(diff: string): number {
  try {
    return treeSize(diff);
  } catch {
    return 0;
  }
}
