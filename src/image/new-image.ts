import type { DiffID } from '../core/digest.js';
import type { ContainerConfig, HistoryEntry, ImageConfig } from './config.js';
import { goArch } from './archive-plan.js';

/** Docker's empty container config, field for field (what `docker import` writes). */
export function emptyContainerConfig(): ContainerConfig {
  return {
    Hostname: '',
    Domainname: '',
    User: '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: null,
    Cmd: null,
    Image: '',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
  };
}

/** A config for a new one-layer (FROM scratch) image. */
export function singleLayerConfig(
  diffID: DiffID,
  config: ContainerConfig,
  history: HistoryEntry,
  comment?: string,
): ImageConfig {
  const created = history.created ?? new Date().toISOString();
  return {
    architecture: goArch(),
    ...(comment !== undefined ? { comment } : {}),
    config,
    container_config: emptyContainerConfig(),
    created,
    docker_version: 'berth-0.1.0',
    history: [{ ...history, created }],
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [diffID] },
  };
}
