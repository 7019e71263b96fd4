/**
 * What a build stage carries from step to step (moby's dispatchState): the run
 * config that becomes the image's config, the image built so far, the args in
 * scope. The helpers shape the config that a step stores as its
 * `container_config` — the cache key of the classic builder.
 */
import type { ImageID } from '../core/digest.js';
import type { ContainerConfig, ImageConfig } from '../image/config.js';
import type { BuildArgs } from './args.js';
import { emptyContainerConfig } from '../image/new-image.js';

export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface StageState {
  runConfig: ContainerConfig;
  /** The image built so far; undefined for `FROM scratch` before its first step. */
  imageId: ImageID | undefined;
  /** Its config (the parent of the next step's image); for scratch a bare one. */
  image: ImageConfig;
  maintainer?: string;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  stageName?: string;
  args: BuildArgs;
}

/** The config a stage starts from: the base image's, with PATH defaulted and stdin closed. */
export function beginStage(
  image: ImageConfig,
  imageId: ImageID | undefined,
  args: BuildArgs,
  stageName?: string,
): StageState {
  // no config (FROM scratch): Docker's zero container.Config, every field present
  const runConfig: ContainerConfig = image.config ? copyConfig(image.config) : emptyContainerConfig();
  if (!(runConfig.Env ?? []).some((e) => e.split('=', 1)[0] === 'PATH'))
    runConfig.Env = [...(runConfig.Env ?? []), DEFAULT_PATH_ENV];
  runConfig.OpenStdin = false;
  runConfig.StdinOnce = false;
  return { runConfig, imageId, image, cmdSet: false, args, ...(stageName ? { stageName } : {}) };
}

export function copyConfig(c: ContainerConfig): ContainerConfig {
  return structuredClone(c);
}

export function shellOf(c: ContainerConfig): string[] {
  return c.Shell && c.Shell.length ? [...c.Shell] : [...DEFAULT_SHELL];
}

/** Metadata steps: Cmd = SHELL + ["#(nop) ", comment] (history shows `/bin/sh -c #(nop)  ENV A=b`). */
export function withCmdComment(c: ContainerConfig, comment: string): ContainerConfig {
  return { ...copyConfig(c), Cmd: [...shellOf(c), '#(nop) ', comment] };
}

/** COPY/ADD/WORKDIR: Cmd = SHELL + ["#(nop) " + comment] (one space). */
export function withCmdCommentString(c: ContainerConfig, comment: string): ContainerConfig {
  return { ...copyConfig(c), Cmd: [...shellOf(c), `#(nop) ${comment}`] };
}

/** Env lookup for expansion: the config's Env, then the allowed build args it does not override. */
export function expansionEnv(s: StageState): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of [...(s.runConfig.Env ?? []), ...s.args.filterAllowed(s.runConfig.Env ?? [])]) {
    const i = kv.indexOf('=');
    if (i < 0) env.set(kv, '');
    else env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return env;
}

/**
 * The classic builder's cache comparison, stricter: every field a step's result
 * depends on must match (moby's compare() skips WorkingDir, Shell, Healthcheck,
 * StopSignal and OnBuild, which makes it reuse images those steps changed).
 */
export function sameStepConfig(a: ContainerConfig | undefined, b: ContainerConfig): boolean {
  if (!a || a.OpenStdin || b.OpenStdin) return false;
  // most candidates differ in the step itself (Cmd): decide that cheaply first
  const ac = a.Cmd ?? [],
    bc = b.Cmd ?? [];
  if (ac.length !== bc.length || ac.some((x, i) => x !== bc[i])) return false;
  const key = (c: ContainerConfig) =>
    JSON.stringify([
      c.User ?? '',
      !!c.Tty,
      !!c.AttachStdout,
      !!c.AttachStderr,
      c.Cmd ?? [],
      c.Env ?? [],
      sorted(c.Labels),
      Object.keys(c.ExposedPorts ?? {}).sort(),
      c.Entrypoint ?? [],
      Object.keys(c.Volumes ?? {}).sort(),
      c.WorkingDir ?? '',
      c.Shell ?? [],
      c.Healthcheck ?? null,
      c.StopSignal ?? '',
      c.OnBuild ?? [],
      !!c.ArgsEscaped,
    ]);
  return key(a) === key(b);
}

function sorted(m: Record<string, string> | null | undefined): Array<[string, string]> {
  return Object.entries(m ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
