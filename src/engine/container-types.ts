import type { EndpointSettings } from '../network/settings.js';
/**
 * The Docker Engine API 1.41 shapes of the container operations (moby's
 * api/swagger.yaml), as berth has them: the fields berth does not implement
 * are absent rather than faked.
 */
import type { ContainerConfig } from '../image/config.js';
import type { HostConfig } from '../container/types.js';
import type { EndpointConfig } from '../network/endpoints.js';

export type { ApiMount, HostConfig } from '../container/types.js';
export type { HealthConfig } from '../image/config.js';

/** Docker's filters: each key with the values it ORs or ANDs (api/types/filters.Args as JSON). */
export type FilterMap = Record<string, string[]>;

/** The body of POST /containers/create (ContainerConfig with HostConfig beside it) and its ?name=. */
export interface ContainerCreateRequest {
  name?: string;
  /** What the caller sets; the image's config fills what is left (Entrypoint/Cmd, Env, WorkingDir, User, ...). */
  Config: Partial<ContainerConfig> & { Image: string };
  HostConfig?: Partial<HostConfig>;
  /** What the container asks of its network (--network-alias, --ip, --mac-address), by network name. */
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointConfig> };
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[];
}

/** A mount as /containers/json and inspect show it. */
export interface MountPoint {
  Type: 'bind' | 'volume';
  /** A volume's name. */
  Name?: string;
  /** A volume's driver ("local"). */
  Driver?: string;
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** One entry of GET /containers/json. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  /** The image as it was named at create. */
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  State: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Status: string;
  /** Published (and exposed) ports: IP and PublicPort only when bound. */
  Ports: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }>;
  Labels: Record<string, string>;
  SizeRw?: number;
  SizeRootFs?: number;
  HostConfig: { NetworkMode: string };
  /** Its networks by name (the API's summary: the endpoint while it runs, an empty one else). */
  NetworkSettings: { Networks: Record<string, Partial<EndpointSettings>> };
  Mounts: MountPoint[];
}

export interface ContainerListOptions {
  all?: boolean;
  /** Show this many of the last created (implies all); <= 0: no limit. */
  limit?: number;
  size?: boolean;
  filters?: FilterMap;
}

export interface StopOptions {
  /** Seconds before SIGKILL; -1 waits forever; default the container's StopTimeout or 10. */
  t?: number;
  signal?: string;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface ContainerWaitResponse {
  StatusCode: number;
  Error?: { Message: string };
}

export interface RemoveOptions {
  force?: boolean;
  /** Remove the anonymous volumes the container made too (`rm -v`; AutoRemove containers always do). */
  v?: boolean;
}

/** The body of POST /containers/{id}/update: resources and the restart policy. */
export type UpdateConfig = Partial<
  Pick<
    HostConfig,
    | 'Memory'
    | 'MemorySwap'
    | 'MemoryReservation'
    | 'NanoCpus'
    | 'CpuShares'
    | 'CpusetCpus'
    | 'CpusetMems'
    | 'PidsLimit'
    | 'RestartPolicy'
  >
>;

export interface ContainerUpdateResponse {
  Warnings: string[];
}

export interface ContainerPruneResponse {
  ContainersDeleted: string[];
  SpaceReclaimed: number;
}
