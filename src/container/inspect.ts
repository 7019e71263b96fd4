import * as fs from 'node:fs';
import { readOptional } from '../storage/fsutil.js';
import { rfc3339Nano } from '../core/time.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';
import { apiMounts } from './mounts.js';
import { idleNetworkSettings } from './network.js';
import { inspectHostConfig } from './inspect-hostconfig.js';

/** Docker's `container inspect` JSON for a berth container (the fields berth has so far). */
export function inspectContainer(containers: ContainerStore, c: ContainerRecord): Record<string, unknown> {
  const p = containers.images.paths;
  const hc = containers.hostConfig(c.ID);
  const rw = p.cacheDir(c.MountID);
  const lower = readOptional(`${rw}/lower`) ?? '';
  // as Docker shows them: each l/<link> resolved to its overlay2/<cache-id>/diff
  const lowerDirs = lower
    .split(':')
    .filter(Boolean)
    .map((l) => {
      try {
        return `${p.overlay}/${fs.readlinkSync(`${p.overlay}/${l}`).replace(/^\.\.\//, '')}`;
      } catch {
        return `${p.overlay}/${l}`;
      }
    });
  return {
    Id: c.ID,
    Created: rfc3339Nano(c.Created),
    Path: c.Path,
    Args: c.Args,
    State: { ...c.State, StartedAt: rfc3339Nano(c.State.StartedAt), FinishedAt: rfc3339Nano(c.State.FinishedAt) },
    Image: c.Image,
    ResolvConfPath: c.ResolvConfPath,
    HostnamePath: c.HostnamePath,
    HostsPath: c.HostsPath,
    LogPath: c.LogPath ?? '',
    Name: c.Name,
    RestartCount: c.RestartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    // the exec instances running in it: the engine that runs them fills them in (none known here)
    ExecIDs: null as string[] | null,
    HostConfig: inspectHostConfig(hc),
    GraphDriver: {
      Data: { LowerDir: lowerDirs.join(':'), MergedDir: `${rw}/merged`, UpperDir: `${rw}/diff`, WorkDir: `${rw}/work` },
      Name: 'overlay2',
    },
    Mounts: apiMounts(c, hc),
    Config: c.Config,
    // recorded at start while it runs; blank otherwise (its exposed ports unbound), as Docker's
    NetworkSettings: c.State.Running && c.NetworkSettings ? c.NetworkSettings : idleNetworkSettings(containers, c),
  };
}
