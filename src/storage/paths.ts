/** Where each piece of Docker's layout lives under a data root (see ../shared/FORMATS.md). */
export class StorePaths {
  readonly overlay: string;
  readonly links: string;
  readonly imageRoot: string;
  readonly layerdb: string;
  readonly layerdbTmp: string;
  readonly mounts: string;
  readonly imagedbContent: string;
  readonly imagedbMetadata: string;
  readonly repositories: string;
  readonly distribution: string;
  readonly containers: string;
  /** Docker's local volumes: volumes/<name>/_data (and opts.json). */
  readonly volumes: string;
  /** berth's own bookkeeping: the store lock and transaction journals. */
  readonly berth: string;
  readonly txn: string;
  readonly locks: string;
  readonly storeLock: string;
  /** Staging of what is renamed into place elsewhere than layerdb (volumes). */
  readonly tmp: string;
  /** Partial downloads of registry blobs, kept for the next pull to resume (storage/partial-blobs.ts). */
  readonly partial: string;

  constructor(readonly root: string) {
    this.overlay = `${root}/overlay2`;
    this.links = `${this.overlay}/l`;
    this.imageRoot = `${root}/image/overlay2`;
    this.layerdb = `${this.imageRoot}/layerdb`;
    this.layerdbTmp = `${this.layerdb}/tmp`;
    this.mounts = `${this.layerdb}/mounts`;
    this.imagedbContent = `${this.imageRoot}/imagedb/content/sha256`;
    this.imagedbMetadata = `${this.imageRoot}/imagedb/metadata/sha256`;
    this.repositories = `${this.imageRoot}/repositories.json`;
    this.distribution = `${this.imageRoot}/distribution`;
    this.containers = `${root}/containers`;
    this.volumes = `${root}/volumes`;
    this.berth = `${root}/berth`;
    this.txn = `${this.berth}/txn`;
    this.locks = `${this.berth}/locks`;
    this.storeLock = `${this.berth}/store.lock`;
    this.tmp = `${this.berth}/tmp`;
    this.partial = `${this.berth}/partial`;
  }

  layerDir(chainHex: string): string {
    return `${this.layerdb}/sha256/${chainHex}`;
  }

  cacheDir(cacheId: string): string {
    return `${this.overlay}/${cacheId}`;
  }
}
