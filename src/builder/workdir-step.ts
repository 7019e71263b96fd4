/**
 * WORKDIR: sets the config's working directory (relative paths join the
 * current one) and, as dockerd does, creates it (0755, root's) in a step
 * container, so a new directory is a layer and an existing one an empty step.
 */
import * as fs from 'node:fs';
import { posix } from 'node:path';
import { invalid } from '../core/errors.js';
import type { ContainerStore } from '../container/store.js';
import { resolveInRoot } from '../runtime/rootfs-path.js';
import { expand } from '../dockerfile/expand.js';
import type { WorkdirInstruction } from '../dockerfile/instructions.js';
import { probeCache, useCached } from './image-step.js';
import { commitStepContainer, createStepContainer, withMountedStep, type StepOptions } from './step-container.js';
import { expansionEnv, withCmdCommentString, type StageState } from './state.js';

export function normalizeWorkdir(current: string | undefined, requested: string): string {
  if (requested === '') throw invalid('dockerfile_workdir', 'cannot normalize nothing');
  return requested.startsWith('/') ? requested : posix.join('/', current ?? '', requested);
}

export async function dispatchWorkdir(
  env: StepOptions & { containers: ContainerStore; noCache: boolean; usingCache(): void },
  s: StageState,
  ins: WorkdirInstruction,
  escape: '\\' | '`',
): Promise<void> {
  const rc = s.runConfig;
  rc.WorkingDir = normalizeWorkdir(rc.WorkingDir, expand(ins.path, expansionEnv(s), { escape }));
  const cc = withCmdCommentString(rc, `WORKDIR ${rc.WorkingDir}`);
  const hit = env.noCache ? undefined : probeCache(env.containers.images, s.imageId, cc);
  if (hit) {
    env.usingCache();
    useCached(env.containers.images, s, hit);
    return;
  }
  const c = await createStepContainer(env.containers, s, cc, [], env);
  await withMountedStep(env.containers, c, (merged) => {
    const path = resolveInRoot(merged, rc.WorkingDir!);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(path);
    } catch {
      /* made below */
    }
    if (st && !st.isDirectory()) throw invalid('workdir_not_dir', `Cannot mkdir: ${rc.WorkingDir} is not a directory`);
    if (!st) fs.mkdirSync(path, { recursive: true, mode: 0o755 });
  });
  await commitStepContainer(env.containers, s, c, cc, env);
}
