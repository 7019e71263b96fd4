import type { ContainerConfig } from '../image/config.js';
import type { PortMap } from '../network/ports.js';
import type { NetworkSettings } from '../network/settings.js';
import type { EndpointConfig } from '../network/endpoints.js';

/** Docker's State object. */
export interface ContainerState {
  Status: 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** With a healthcheck: what the monitor last recorded (containers/<id>/health.json). */
  Health?: {
    Status: 'starting' | 'healthy' | 'unhealthy';
    FailingStreak: number;
    Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
  };
}

/** One of HostConfig.Mounts (`--mount`), as the Engine API has it. */
export interface ApiMount {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** A bind's host path, a volume's name (none: an anonymous volume). */
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HostConfig {
  Binds: string[] | null;
  /** `--mount` (binds, volumes, tmpfs). */
  Mounts?: ApiMount[] | null;
  /** `--volumes-from CONTAINER[:ro|rw]`: that container's binds and volumes too. */
  VolumesFrom?: string[] | null;
  /**
   * none, host, bridge (the default bridge network: `--network bridge|default`), a user network's name, or
   * `container:NAME|ID` (the network namespace of that running container, joined).
   */
  NetworkMode: string;
  /**
   * berth's own: every network the container joins at start, by name, in order (the first is NetworkMode), with what
   * it asked of each (`--network-alias`, `--ip`, `--mac-address`, `network connect`); Docker keeps these in
   * config.v2.json's NetworkSettings.Networks. Absent: only NetworkMode, asking nothing.
   */
  BerthEndpoints?: Record<string, EndpointConfig>;
  /** `-p`: container port ("80/tcp") -> host bindings (bridge only). */
  PortBindings?: PortMap | null;
  /** `-P`: every exposed port to a free host port. */
  PublishAllPorts?: boolean;
  /** `--dns`, `--dns-search`, `--dns-option`: resolv.conf's nameservers, search domains, options (Docker: [] if none). */
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  /** `--add-host NAME:IP` (IP may be host-gateway), as given; null if none. */
  ExtraHosts?: string[] | null;
  AutoRemove: boolean;
  ReadonlyRootfs: boolean;
  Tmpfs: Record<string, string> | null;
  Runtime: 'berth' | 'runc';
  GroupAdd: string[] | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  SecurityOpt?: string[] | null;
  RestartPolicy?: { Name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; MaximumRetryCount: number };
  LogConfig?: { Type: 'json-file'; Config: Record<string, string> };
  Init?: boolean | null;
  // resources, named as Docker's HostConfig (0 = unset)
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  NanoCpus?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  OomKillDisable?: boolean | null;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }> | null;
}

/** One of config.v2.json's MountPoints, as Docker writes it (a bind or a volume). */
export interface MountPoint {
  /** The host path mounted: a bind's source, a volume's _data. */
  Source: string;
  Destination: string;
  RW: boolean;
  /** The volume's name ("" for a bind). */
  Name: string;
  /** "local" for volumes, "" for binds. */
  Driver: string;
  Type: 'bind' | 'volume';
  Mode: string;
  Relabel: string;
  Propagation: string;
  Spec: { Type: 'bind' | 'volume'; Source?: string; Target: string; ReadOnly?: boolean };
  /** berth's: the image's content at Destination is still to be copied into the volume when it is empty (Docker's copy-up). */
  CopyData?: boolean;
}

/** containers/<id>/config.v2.json (the fields berth uses, named as Docker names them). */
export interface ContainerRecord {
  ID: string;
  Created: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  Image: string;
  Name: string;
  Driver: 'overlay2';
  State: ContainerState;
  HostnamePath: string;
  HostsPath: string;
  ResolvConfPath: string;
  /** overlay2 dir names: the rw layer and its init layer. */
  MountID: string;
  /** containers/<id>/<id>-json.log (detached containers). */
  LogPath?: string;
  RestartCount?: number;
  /** Binds and volumes by destination (containers created before berth kept them have none: their binds stand). */
  MountPoints?: Record<string, MountPoint>;
  /** Its network while it runs (address, ports on the bridge), blank once it stopped, as Docker's. */
  NetworkSettings?: NetworkSettings;
}

/** What a detached container's monitor writes to containers/<id>/state.json. */
export interface MonitorState {
  Status: 'running' | 'restarting' | 'exited';
  Pid: number;
  MonitorPid: number;
  ExitCode: number;
  OOMKilled: boolean;
  StartedAt: string;
  FinishedAt: string;
  RestartCount: number;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function createdState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
