import { existsSync } from 'node:fs';
import type { ContainerStore } from './store.js';

/**
 * The names of the containers `start --all` starts (after settling): every one not running, or of the given restart
 * policies; `unless-stopped` ones a user stopped or killed (their `stopping` marker, kept until their next start) stay
 * stopped, as dockerd leaves them when it starts.
 */
export function startable(store: ContainerStore, policies?: ReadonlySet<string>): string[] {
  const names: string[] = [];
  for (const c of store.list()) {
    if (c.State.Running) continue;
    const policy = store.hostConfig(c.ID).RestartPolicy?.Name || 'no';
    if (policies && !policies.has(policy)) continue;
    if (policy === 'unless-stopped' && existsSync(store.stopMarker(c.ID))) continue;
    names.push(c.Name.replace(/^\//, ''));
  }
  return names;
}
