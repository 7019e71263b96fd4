import { conflict } from '../core/errors.js';
import type { ContainerRecord } from '../container/types.js';
import type { Engine } from './engine.js';

/** A container by id, id prefix or name, after settling what a killed berth or monitor left. */
export async function findContainer(engine: Engine, id: string): Promise<ContainerRecord> {
  const cs = engine.containerStore;
  await cs.reapStale();
  const c = await cs.resolveAsync(id);
  return cs.tryGet(c.ID) ?? c;
}

/** A container that must be running for `action` (Docker's 409 otherwise). */
export async function liveContainer(engine: Engine, id: string, action: string): Promise<ContainerRecord> {
  const c = await findContainer(engine, id);
  const short = c.ID.slice(0, 12);
  if (!c.State.Running || !engine.containerStore.isLive(c.ID))
    throw conflict('not_running', `${action}: container ${short} is not running`);
  if (c.State.Paused) throw conflict('paused', `${action}: container ${short} is paused, unpause the container first`);
  return c;
}
