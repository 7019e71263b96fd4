import * as fs from 'node:fs';
import { invalid } from '../../core/errors.js';
import { eachName } from '../each.js';
import type { Context } from '../context.js';

/**
 * `start --all [--filter restart-policy=NAME]...`, as Podman's: start every container that is not running (of the
 * given restart policies). What contrib/berth-restart.service runs at boot: berth has no daemon to bring back the
 * containers whose policy says so, as dockerd does when it starts. A container with `unless-stopped` that a user
 * stopped or killed (its `stopping` marker, kept until its next start) is left stopped, as dockerd leaves it.
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
  await engine.containers.settle(); // after a reboot: the containers marked running before it are marked exited
  const store = engine.containerStore;
  const names: string[] = [];
  for (const c of store.list()) {
    if (c.State.Running) continue;
    const policy = store.hostConfig(c.ID).RestartPolicy?.Name || 'no';
    if (policies && !policies.has(policy)) continue;
    if (policy === 'unless-stopped' && fs.existsSync(store.stopMarker(c.ID))) continue;
    names.push(c.Name.replace(/^\//, ''));
  }
  return eachName(ctx, names, (n) => engine.containers.start(n));
}
