import type { AuthConfig } from '../registry/client.js';
/**
 * The image operations' shapes, as the Docker Engine API 1.41 defines them
 * (moby api/swagger.yaml); where berth adds something, the field says so.
 */
import type { Readable } from 'node:stream';
import type { Filters } from '../core/filters.js';

export type { ImageInspect } from '../image/views.js';

/** One image of GET /images/json. */
export interface ImageSummary {
  Id: string;
  /** The image this one was built on ("" for none). */
  ParentId: string;
  /** Familiar "repo:tag" names; ["<none>:<none>"] for an untagged image, as dockerd lists it. */
  RepoTags: string[];
  RepoDigests: string[];
  /** Seconds since the epoch. */
  Created: number;
  Size: number;
  /** -1: not computed (dockerd computes it only for /system/df). */
  SharedSize: number;
  VirtualSize: number;
  Labels: Record<string, string>;
  /** Containers using the image; -1 when not counted. */
  Containers: number;
}

export interface ImageListOptions {
  /** Also the untagged intermediate images (parents of others). */
  all?: boolean;
  /** reference, dangling, label, before, since. */
  filters?: Filters;
  /** Accepted for the API's shape: RepoDigests are always listed. */
  digests?: boolean;
}

/** One entry of GET /images/{name}/history, newest first. */
export interface HistoryResponseItem {
  /** The image at this step, or "<missing>" where no image of the store is. */
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface ImageDeleteResponseItem {
  Untagged?: string;
  Deleted?: string;
}

export interface ImageRemoveOptions {
  force?: boolean;
  noprune?: boolean;
}

export interface ImagesPruneResponse {
  ImagesDeleted: ImageDeleteResponseItem[] | null;
  SpaceReclaimed: number;
}

/** What POST /images/load streams: one message a loaded image ("Loaded image: x\n"). */
export interface ImageLoadResponse {
  stream: Array<{ stream: string }>;
  /** berth's: the loaded images as data. */
  images: Array<{ Id: string; RepoTags: string[] }>;
}

export type ArchiveInput = Readable | { path: string };

/** berth's: what a long operation (load, save, import) takes besides its input. */
export interface OperationOptions {
  /** Stops the operation: it rejects with an "aborted" error (code `aborted`) and the store is as before. */
  signal?: AbortSignal;
}

export interface ImageImportOptions {
  repo?: string;
  tag?: string;
  /** Dockerfile instructions applied to the config (`--change`). */
  changes?: string[];
  message?: string;
  /** Only the host's platform is accepted (berth imports for the host). */
  platform?: string;
  /** How history names the source ("-" for a stream). */
  source?: string;
}

/** The /build query parameters berth takes. */
export interface ImageBuildOptions {
  t?: string[];
  /** The Dockerfile's path: in the context, or (berth's, for a directory context) on the host. */
  dockerfile?: string;
  /** berth's: the Dockerfile's text given apart from the context (`-f -`); "-" names it. */
  dockerfileText?: string;
  /** null: declared without a value. */
  buildargs?: Record<string, string | null>;
  labels?: Record<string, string>;
  nocache?: boolean;
  rm?: boolean;
  forcerm?: boolean;
  target?: string;
  /** The RUN steps' network: "default" (the default bridge, as the classic builder's), "bridge", "none" or "host". */
  networkmode?: string;
  /** `--add-host NAME:IP` (IP may be host-gateway): the RUN steps' /etc/hosts entries. */
  extrahosts?: string[];
  /** Only the image ID is streamed; a failed step's output comes with the error. */
  q?: boolean;
  /** Pull every FROM image, even one the store has (`build --pull`); a missing one is pulled anyway. */
  pull?: boolean;
}

/** The build context: a directory, a tar stream (maybe compressed), or none (a Dockerfile alone). */
export type BuildContextInput = Readable | { dir: string } | null;

/**
 * One message of the /build stream. `output` is berth's: set on a RUN
 * step's output (which stream it came from) and on the Dockerfile's
 * warnings, so a display can tell them from the builder's own lines.
 */
export interface BuildEvent {
  stream?: string;
  aux?: { ID: string };
  error?: string;
  errorDetail?: { message: string };
  output?: 'stdout' | 'stderr' | 'warning';
}

export interface BuildRequest {
  signal?: AbortSignal;
  onEvent?: (e: BuildEvent) => void;
  /**
   * Credentials for a registry a FROM image is pulled from (the /build request's
   * X-Registry-Config, keyed as config.json keys registries: "docker.io", "localhost:5000").
   */
  credentials?: (registry: string) => AuthConfig | undefined;
}

/** GET /system/df. */
export interface SystemDfResponse {
  LayersSize: number;
  Images: ImageSummary[];
  Containers: unknown[];
  Volumes: unknown[];
  BuildCache: unknown[];
}
