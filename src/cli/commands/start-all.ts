import { invalid } from '../../core/errors.js';
import { eachName } from '../each.js';
import type { Context } from '../context.js';

/**
 * `start --all [--filter restart-policy=NAME]...`, as Podman's: start every container that is not running (of the
 * given restart policies). What contrib/berth-restart.service runs at boot: berth has no daemon to bring back the
 * containers whose policy says so, as dockerd does when it starts (which ones: Containers.startable).
 */

const POLICIES = ['no', 'on-failure', 'always', 'unless-stopped'];

/** The restart policies the filters name (pure); undefined: every container. */
export function policyFilter(filters: readonly string[]): Set<string> | undefined {
  if (filters.length === 0) return undefined;
  const out = new Set<string>();
  for (const f of filters) {
    const i = f.indexOf('=');
    const key = i < 0 ? '' : f.slice(0, i);
    const value = f.slice(i + 1);
    if (key !== 'restart-policy')
      throw invalid('invalid_filter', `start --all: unknown filter ${JSON.stringify(f)} (restart-policy=NAME)`);
    if (!POLICIES.includes(value))
      throw invalid(
        'invalid_filter',
        `start --all: invalid restart policy ${JSON.stringify(value)} (one of ${POLICIES.join(', ')})`,
      );
    out.add(value);
  }
  return out;
}

export async function startAll(ctx: Context, filters: readonly string[]): Promise<number> {
  const policies = policyFilter(filters);
  const engine = await ctx.engine();
  return eachName(ctx, await engine.containers.startable(policies), (n) => engine.containers.start(n));
}
