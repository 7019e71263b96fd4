/**
 * RUN: the command runs in a real berth container on the stage's image, with
 * the config's Env plus the build args in scope, no entrypoint and no
 * healthcheck; its read-write layer becomes the step's layer. The cache key is
 * the config with Cmd = the command, prefixed `|N K=V ...` by the build args it
 * saw (moby's prependEnvOnCmd), which is also the history's created_by.
 */
import type { ChildProcess } from 'node:child_process';
import { BerthError, invalid, unsupported } from '../core/errors.js';
import type { ContainerStore } from '../container/store.js';
import { startForeground } from '../container/run.js';
import type { ContainerConfig } from '../image/config.js';
import type { RunInstruction } from '../dockerfile/instructions.js';
import { probeCache, useCached } from './image-step.js';
import {
  commitStepContainer,
  createStepContainer,
  dropVolumeWrites,
  endIfInterrupted,
  lowerDirs,
  removeStepContainer,
  type StepOptions,
} from './step-container.js';
import { copyConfig, shellOf, type StageState } from './state.js';

export interface RunOutput {
  /** Raw output of the command, as it comes. */
  write(chunk: Buffer, stream: 'stdout' | 'stderr'): void;
}

/** The command line RUN executes: shell form through SHELL (heredocs as buildkit passes them), exec form as is. */
export function runCommandLine(ins: RunInstruction, config: ContainerConfig): string[] {
  if (ins.form === 'exec') return [...ins.command];
  const shell = shellOf(config);
  if (ins.heredocs.length === 0) return [...shell, ins.command];
  const only = /^\s*\d*<<-?\s*["']?([^"'\s]+)["']?\s*$/.exec(ins.command);
  if (only && ins.heredocs.length === 1 && only[1] === ins.heredocs[0]!.name) {
    const body = ins.heredocs[0]!.content;
    if (body.startsWith('#!'))
      throw unsupported(
        'heredoc_shebang',
        'RUN <<EOF with a #! script is not supported yet: run it through its interpreter (RUN python3 <<EOF)',
      );
    return [...shell, body];
  }
  let full = ins.command;
  for (const h of ins.heredocs) full += `\n${h.content}${h.name}`;
  return [...shell, full];
}

/** `|N K=V ...` before the command: the build args a step used (proxy args only when declared). */
export function prependArgs(s: StageState, used: string[], cmd: string[]): string[] {
  const kept = used.filter((kv) => s.args.isReferencedOrNotBuiltin(kv.split('=', 1)[0]!)).sort();
  return [`|${kept.length}`, ...kept, ...cmd];
}

/** The step's cache key config (container_config) and the config of the container that runs it. */
export function runConfigs(s: StageState, cmd: string[]): { key: ContainerConfig; run: ContainerConfig } {
  const rc = s.runConfig;
  const used = s.args.filterAllowed(rc.Env ?? []);
  const saveCmd = used.length ? prependArgs(s, used, cmd) : cmd;
  const key: ContainerConfig = { ...copyConfig(rc), Cmd: saveCmd };
  delete key.ArgsEscaped;
  if (saveCmd.length) key.Entrypoint = null;
  const run: ContainerConfig = {
    ...copyConfig(rc),
    Cmd: cmd,
    Env: [...(rc.Env ?? []), ...used],
    Entrypoint: null,
    Healthcheck: { Test: ['NONE'] },
  };
  delete run.ArgsEscaped;
  return { key, run };
}

export interface RunStepEnv extends StepOptions {
  containers: ContainerStore;
  noCache: boolean;
  output: RunOutput;
  usingCache(): void;
}

export async function dispatchRun(env: RunStepEnv, s: StageState, ins: RunInstruction): Promise<void> {
  const flag = Object.keys(ins.flags).find((f) => f !== 'network');
  if (flag) throw unsupported('run_flag', `the --${flag} option of RUN is not supported by berth's builder yet`);
  // RUN --network=default|none|host (BuildKit's): this step's network; it is part of the cache key
  const net = ins.flags['network'];
  if (net !== undefined && net !== 'default' && net !== 'none' && net !== 'host')
    throw invalid('run_network', `RUN --network=${String(net)}: expected default, none or host`);
  const network = net === 'none' || net === 'host' ? net : env.network;
  const cmd = runCommandLine(ins, s.runConfig);
  const { key, run } = runConfigs(s, cmd);
  // the history names the override before the command: `|1 V=1 --network=host /bin/sh -c make`
  if (net === 'none' || net === 'host')
    key.Cmd = [...(key.Cmd ?? []).slice(0, -cmd.length), `--network=${net}`, ...cmd];
  const hit = env.noCache ? undefined : probeCache(env.containers.images, s.imageId, key);
  if (hit) {
    env.usingCache();
    useCached(env.containers.images, s, hit);
    return;
  }
  const c = await createStepContainer(env.containers, s, run, cmd, { ...env, network });
  await endIfInterrupted(env.containers, c, env);
  let code: number;
  let stop: (() => void) | undefined;
  try {
    let monitor: ChildProcess | undefined;
    code = await startForeground(env.containers, c, {
      stdio: ['ignore', 'pipe', 'pipe'],
      volatile: true,
      // interrupted: the command is killed (its PID 1 with it, the whole namespace), then the container removed below
      onStart: (_kill, pid) => {
        stop = () => {
          try {
            if (pid) process.kill(pid, 'SIGKILL');
          } catch {
            /* ended */
          }
        };
        if (env.signal?.aborted) stop();
        else env.signal?.addEventListener('abort', stop, { once: true });
      },
      onSpawn: (m) => {
        monitor = m;
        m.stdout?.on('data', (d: Buffer) => env.output.write(d, 'stdout'));
        m.stderr?.on('data', (d: Buffer) => env.output.write(d, 'stderr'));
      },
    });
    // all output is read before the step ends (the monitor's pipes close after its exit)
    if (monitor)
      await Promise.all(
        [monitor.stdout, monitor.stderr].map((st) =>
          st && !st.readableEnded ? new Promise((r) => st.once('close', r)) : undefined,
        ),
      );
  } catch (err) {
    await endIfInterrupted(env.containers, c, env);
    if (env.forceRm) await removeStepContainer(env.containers, c, env);
    throw err;
  } finally {
    if (stop) env.signal?.removeEventListener('abort', stop);
  }
  await endIfInterrupted(env.containers, c, env);
  if (code !== 0) {
    if (env.forceRm) await removeStepContainer(env.containers, c, env);
    throw new BerthError(
      'InvalidArgument',
      'run_failed',
      `The command '${run.Cmd!.join(' ')}' returned a non-zero code: ${code}`,
    );
  }
  // what a RUN writes below a VOLUME goes to the volume in Docker, not to the layer
  const paths = env.containers.images.paths;
  const volumes = Object.keys(run.Volumes ?? {});
  if (volumes.length)
    dropVolumeWrites(`${paths.cacheDir(c.MountID)}/diff`, lowerDirs(paths.overlay, paths.cacheDir(c.MountID)), volumes);
  await commitStepContainer(env.containers, s, c, key, env);
}
