import { type DiffID, isDigest } from '../core/digest.js';
import { corrupt, unsupported } from '../core/errors.js';

/** The image config (Docker's image JSON / OCI image config), as much as berth reads. */
/**
 * Docker's HealthConfig: Test is ["NONE"], ["CMD", args...] or ["CMD-SHELL", command]; durations in nanoseconds (0 =
 * default).
 */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  /** Seconds between the stop signal and SIGKILL (a container setting, not an image one). */
  StopTimeout?: number;
  Shell?: string[] | null;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  config?: ContainerConfig;
  container_config?: ContainerConfig;
  container?: string;
  created?: string;
  author?: string;
  comment?: string;
  docker_version?: string;
  parent?: string;
  history?: HistoryEntry[];
  rootfs: { type: 'layers'; diff_ids: DiffID[] };
}

/** Validate the parts of an untrusted config berth relies on. `what` names it in errors. */
export function parseImageConfig(bytes: Buffer, what: string): ImageConfig {
  let j: unknown;
  try {
    j = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw corrupt('config_invalid', `${what}: image config is not valid JSON (${(err as Error).message})`);
  }
  const c = j as Partial<ImageConfig>;
  if (!c || typeof c !== 'object' || Array.isArray(c))
    throw corrupt('config_invalid', `${what}: image config is not a JSON object`);
  if (!c.rootfs || c.rootfs.type !== 'layers' || !Array.isArray(c.rootfs.diff_ids)) {
    throw corrupt('config_invalid', `${what}: image config has no rootfs of type "layers" with diff_ids`);
  }
  c.rootfs.diff_ids.forEach((d, i) => {
    if (typeof d !== 'string' || !isDigest(d))
      throw corrupt('config_invalid', `${what}: rootfs.diff_ids[${i}] ${JSON.stringify(d)} is not a sha256 digest`);
  });
  if (c.rootfs.diff_ids.length > 125)
    throw corrupt('config_invalid', `${what}: ${c.rootfs.diff_ids.length} layers exceed the maximum of 125`);
  if (c.history !== undefined && !Array.isArray(c.history))
    throw corrupt('config_invalid', `${what}: history is not an array`);
  return c as ImageConfig;
}

/**
 * berth runs Linux images only; as dockerd (image.CheckOS), an empty os means the host's and
 * the comparison ignores case. Refused at load so no unrunnable image enters the store.
 */
export function checkImageOS(c: ImageConfig, what: string): void {
  const os = c.os ?? '';
  if (typeof os !== 'string' || (os !== '' && os.toLowerCase() !== 'linux')) {
    throw unsupported(
      'image_os',
      `${what}: image operating system ${JSON.stringify(os)} cannot be used on this platform (berth runs linux images)`,
    );
  }
}

/** Serialize a config berth made (Go's json.Marshal key order is not required: the bytes are the identity). */
export function encodeImageConfig(c: ImageConfig): Buffer {
  return Buffer.from(JSON.stringify(c));
}
