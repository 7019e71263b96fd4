import * as fs from 'node:fs';
import { conflict, invalid } from '../core/errors.js';
import { chainIDs, type ImageID } from '../core/digest.js';
import { mkdirp, randomHex, readOptional, removeAll } from '../storage/fsutil.js';
import type { ContainerConfig } from '../image/config.js';
import { createRwLayers, unmountRootfs } from './rootfs.js';
import { cleanupRunc } from '../runtime/runc.js';
import { removeEmptyCgroup } from './cgroup.js';
import { hostsFile, resolvConf } from './etc-files.js';
import { dnsOf, extraHosts, joinedName } from './network.js';
import { uniqueName } from './names.js';
import { checkUserSpec } from '../runtime/user.js';
import { CONTAINER_ID_RE } from './store-paths.js';
import { createMountPoints, inheritedMountPoints, mountRequests } from './mounts.js';
import type { ContainerStore } from './store.js';
import { type ContainerRecord, type HostConfig, createdState } from './types.js';

export interface CreateOptions {
  /** A container id chosen beforehand (64 hex digits), when work for it starts before it exists. */
  id?: string;
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  path: string;
  args: string[];
  /**
   * The config's Volumes become anonymous volumes, as a container a user creates gets them
   * (a build's step containers do not: the builder keeps RUN's writes there out of its layers).
   */
  imageVolumes?: boolean;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** A container name as given (without the leading slash), or InvalidArgument. */
export function checkName(name: string): string {
  if (!NAME_RE.test(name))
    throw invalid('invalid_name', `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name;
}

/**
 * Create a container's files and layers in one journaled transaction: containers/<id>/{config.v2.json,
 * hostconfig.json,hostname,hosts,resolv.conf}, layerdb/mounts/<id>/ and the init and rw layers in overlay2/.
 * `imageId` undefined: on no image at all (a build's `FROM scratch`).
 */
export async function createContainer(
  store: ContainerStore,
  imageId: ImageID | undefined,
  opts: CreateOptions,
): Promise<ContainerRecord> {
  const images = store.images;
  const p = images.paths;
  const chain = imageId ? chainIDs(images.images.get(imageId).rootfs.diff_ids) : [];
  const id = opts.id ?? randomHex();
  if (!CONTAINER_ID_RE.test(id)) throw invalid('invalid_id', `invalid container id ${JSON.stringify(id)}`);
  const mountId = randomHex();
  const given = opts.name === undefined ? undefined : checkName(opts.name);
  // a user the kernel must never be given is refused before anything is stored (a build's COPY container runs
  // nothing: Docker lets it be)
  if (opts.path) checkUserSpec(opts.config.User, opts.hostConfig.GroupAdd ?? []);
  // -v and the image's VOLUMEs, checked before anything is stored
  const requests = mountRequests(opts.hostConfig, opts.imageVolumes ? Object.keys(opts.config.Volumes ?? {}) : []);
  // hosts and resolv.conf as they stand before a start (on `container:` unused: the joined container's serve)
  const hc = opts.hostConfig;
  const mode = joinedName(hc.NetworkMode) === undefined ? hc.NetworkMode : 'none';
  const hosts = hostsFile(opts.config.Hostname || id.slice(0, 12), mode, undefined, extraHosts(store, hc));
  // each kind the container's own, else daemon.json's (dockerd's rule)
  const resolv = resolvConf(mode, undefined, dnsOf(store, hc));
  return images.withTxn('create', async (txn) =>
    images.lock(() => {
      // names are checked and taken under the store lock: two creates cannot both take a free name
      const names = new Set(store.list().map((c) => c.Name));
      const name = given ?? uniqueName((n) => names.has(`/${n}`), id);
      if (given !== undefined && names.has(`/${name}`)) {
        throw conflict('name_in_use', `Conflict. The container name "/${name}" is already in use by another container`);
      }
      const top = chain.length ? images.layers.require(chain[chain.length - 1]!) : undefined;
      const dir = store.dir(id);
      // the container exists once containers/<id> does (the last rename): undo removes a layerdb/mounts/<id> without
      // it
      txn.add({ op: 'container', id });
      txn.add({ op: 'tmp', path: `${dir}.new` });
      txn.add({ op: 'tmp', path: `${p.mounts}/${id}.new` });
      createRwLayers(p, txn, top, mountId);
      // --volumes-from first: the container's own -v and --mount win on the same path, as Docker's
      const mountPoints = {
        ...inheritedMountPoints(opts.hostConfig.VolumesFrom ?? [], (ref) => store.resolve(ref)),
        ...createMountPoints(store.volumes, requests, txn),
      };
      const hostname = opts.config.Hostname || id.slice(0, 12);
      const stage = `${dir}.new`;
      mkdirp(stage, 0o710);
      const record: ContainerRecord = {
        ID: id,
        Created: new Date().toISOString(),
        Path: opts.path,
        Args: opts.args,
        Config: { ...opts.config, Hostname: hostname, Image: opts.config.Image },
        Image: imageId ?? '',
        Name: `/${name}`,
        Driver: 'overlay2',
        State: createdState(),
        HostnamePath: `${dir}/hostname`,
        HostsPath: `${dir}/hosts`,
        ResolvConfPath: `${dir}/resolv.conf`,
        MountID: mountId,
        MountPoints: mountPoints,
      };
      fs.writeFileSync(`${stage}/config.v2.json`, JSON.stringify(record), { mode: 0o600 });
      fs.writeFileSync(`${stage}/hostconfig.json`, JSON.stringify(opts.hostConfig), { mode: 0o600 });
      fs.writeFileSync(`${stage}/hostname`, `${hostname}\n`, { mode: 0o644 });
      fs.writeFileSync(`${stage}/hosts`, hosts, { mode: 0o644 });
      fs.writeFileSync(`${stage}/resolv.conf`, resolv, { mode: 0o644 });
      const mstage = `${p.mounts}/${id}.new`;
      mkdirp(mstage, 0o700);
      fs.writeFileSync(`${mstage}/mount-id`, mountId);
      fs.writeFileSync(`${mstage}/init-id`, `${mountId}-init`);
      if (top) fs.writeFileSync(`${mstage}/parent`, top.chainID);
      fs.renameSync(mstage, `${p.mounts}/${id}`);
      fs.renameSync(stage, dir);
      return record;
    }),
  );
}

/**
 * Remove a stopped container's union, layers, mounts record and directory in one journaled transaction (the caller
 * holds its run lock).
 */
export async function removeContainerFiles(store: ContainerStore, r: ContainerRecord): Promise<void> {
  const images = store.images;
  const p = images.paths;
  if (store.hostConfig(r.ID).Runtime === 'runc') await cleanupRunc(r.ID); // runc state and bundle, if a killed berth left them
  // a cgroup left by a start whose end was never settled: nothing else would remove it once the record is gone
  // (empty: the container is stopped; one still in use is left for the clean-up of its monitor)
  await removeEmptyCgroup(r.ID);
  await images.withTxn('rm', async (txn) =>
    images.lock(() => {
      unmountRootfs(p, r.MountID);
      const gone = `${p.containers}/.rm-${r.ID}`;
      txn.add({ op: 'container', id: r.ID });
      txn.add({ op: 'tmp', path: gone });
      txn.add({ op: 'tmp', path: `${p.mounts}/.rm-${r.ID}` });
      for (const id of [r.MountID, `${r.MountID}-init`]) {
        const link = readOptional(`${p.cacheDir(id)}/link`);
        txn.add({ op: 'layer-dir', cacheId: id, link: link ?? '' });
      }
      // unregister first (atomic renames: the container dir first, so that from then on recovery finishes the
      // removal), then delete
      if (fs.existsSync(store.dir(r.ID))) fs.renameSync(store.dir(r.ID), gone);
      if (fs.existsSync(`${p.mounts}/${r.ID}`)) fs.renameSync(`${p.mounts}/${r.ID}`, `${p.mounts}/.rm-${r.ID}`);
      for (const id of [r.MountID, `${r.MountID}-init`])
        images.layers.removeCacheDir(id, readOptional(`${p.cacheDir(id)}/link`));
      removeAll(gone);
      removeAll(`${p.mounts}/.rm-${r.ID}`);
    }),
  );
}
