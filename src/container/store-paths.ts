import type { ImageStore } from '../image/store.js';
import type { RunLockPlace } from './run-lock.js';
import { VolumeStore } from '../volume/store.js';

/** A container id: 64 hex digits. */
export const CONTAINER_ID_RE = /^[0-9a-f]{64}$/;

/** The container ids among a listing of containers/ (not the staging dirs of a create or rm: <id>.new, .rm-<id>). */
export function containerIds(names: string[]): string[] {
  return names.filter((n) => CONTAINER_ID_RE.test(n));
}

/**
 * Where a container's files are: containers/<id>/{config.v2.json,hostconfig.json,state.json,health.json,
 * stopping,<id>-json.log} and its run lock berth/locks/ctr-<id>.
 */
export class ContainerPaths {
  private vols: VolumeStore | undefined;

  constructor(readonly images: ImageStore) {}

  /** The store's volumes (volumes/<name>/_data), which containers mount. */
  get volumes(): VolumeStore {
    return (this.vols ??= new VolumeStore(this.images.paths));
  }

  protected get p() {
    return this.images.paths;
  }

  dir(id: string): string {
    return `${this.p.containers}/${id}`;
  }
  statePath(id: string): string {
    return `${this.dir(id)}/state.json`;
  }
  stopMarker(id: string): string {
    return `${this.dir(id)}/stopping`;
  }
  logPath(id: string): string {
    return `${this.dir(id)}/${id}-json.log`;
  }
  healthPath(id: string): string {
    return `${this.dir(id)}/health.json`;
  }

  /** The lock a berth process holds while it runs the container (the kernel drops it if berth dies). */
  lockPath(id: string): string {
    return `${this.p.locks}/ctr-${id}`;
  }

  /** The run lock's file and the container directory whose existence says the lock file is still wanted. */
  runLockPlace(id: string): RunLockPlace {
    return { path: this.lockPath(id), dir: this.dir(id) };
  }
}
