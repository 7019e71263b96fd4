import { BerthError, invalid } from '../../core/errors.js';
import type { CreatePlan } from '../../engine/container-create.js';
import type { ContainerCreateRequest } from '../../engine/container-types.js';
import type { Engine } from '../../engine/engine.js';
import type { PullEvent } from '../../engine/registries.js';
import type { Context } from '../context.js';

/** `--pull` of run and create, as the docker CLI's. */
export type PullPolicy = 'missing' | 'always' | 'never';

export function pullPolicy(v: unknown): PullPolicy {
  const s = typeof v === 'string' ? v : 'missing';
  if (s === 'missing' || s === 'always' || s === 'never') return s;
  throw invalid('usage', `invalid pull option: '${s}': must be one of "always", "missing" or "never"`);
}

/**
 * Pull `name` with the caller's credentials, its progress on `out` (stderr for run and
 * create, as the docker CLI prints it there), nothing but errors with `quiet`.
 */
export async function pullFor(
  ctx: Context,
  engine: Engine,
  name: string,
  opts: { platform?: string; quiet?: boolean },
): Promise<void> {
  // loaded when a pull happens: a run of an image the store has does not pay for them
  const [{ PullProgress }, { credentialsFor }] = await Promise.all([
    import('./pull-progress.js'),
    import('./registry-auth.js'),
  ]);
  const progress = new PullProgress(ctx.stderr, !!opts.quiet);
  const auth = credentialsFor(engine.registries.registryOf(name));
  await engine.registries.pull(name, {
    ...(auth ? { auth } : {}),
    ...(opts.platform ? { platform: opts.platform } : {}),
    onProgress: (e: PullEvent) => progress.write(e),
  });
}

/**
 * The create plan of `run` and `create` with the docker CLI's pull policy: `always`
 * pulls first; `missing` pulls when the engine has no such image ("Unable to find image
 * 'NAME:TAG' locally" on stderr unless quiet, then the pull's progress) and plans again; `never` leaves
 * the engine's "No such image" as it is. An image ID is never pulled.
 */
export async function planWithPull(
  ctx: Context,
  engine: Engine,
  req: ContainerCreateRequest,
  o: Record<string, unknown>,
): Promise<CreatePlan> {
  const policy = pullPolicy(o.pull);
  const name = req.Config.Image ?? '';
  const opts = {
    ...(typeof o.platform === 'string' && o.platform ? { platform: o.platform } : {}),
    quiet: !!o.quiet,
  };
  if (policy === 'always') await pullFor(ctx, engine, name, opts);
  try {
    return engine.containers.plan(req);
  } catch (err) {
    if (policy !== 'missing' || !(err instanceof BerthError) || err.code !== 'image_not_found' || isImageId(name))
      throw err;
  }
  if (!opts.quiet) ctx.err(`Unable to find image '${engine.registries.familiar(name)}' locally`);
  await pullFor(ctx, engine, name, opts);
  return engine.containers.plan(req);
}

/** A full image ID, "sha256:" or not: something no registry has. */
function isImageId(s: string): boolean {
  return /^(sha256:)?[0-9a-f]{64}$/.test(s);
}
