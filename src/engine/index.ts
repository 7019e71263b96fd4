/**
 * berth's engine as a library: `import { Engine } from 'berth'`. The public
 * API is the Engine class and the Docker Engine API shapes its operations
 * take and return.
 */
export { Engine, type EngineOptions } from './engine.js';
export { BerthError, type ErrorKind } from '../core/errors.js';
export type * from './container-types.js';
export type * from './image-types.js';
export type {
  AuthConfig,
  ImagePullOptions,
  ImagePullResult,
  ImagePushOptions,
  PullEvent,
  PushedTag,
} from './registries.js';
export type { Volume, VolumeCreateOptions, VolumeListResponse, VolumePruneResponse } from './volumes.js';
/** The caller's ~/.docker/config.json credentials, as the docker CLI reads and writes them. */
export * as dockerConfig from './client-config.js';
/** dockerd's daemon.json (registry settings for Engine.open) and the proxy environment, as the CLI reads them. */
export * as daemonConfig from './daemon-config.js';
export type * from './system-types.js';
