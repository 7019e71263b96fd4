import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { conflict, invalid } from '../core/errors.js';
import type { ContainerStore } from './store.js';
import type { ContainerRecord } from './types.js';

/** Host pids of every process in the container's PID namespace (the namespace of its PID 1). */
export function containerPids(pid1: number): number[] {
  let ns: string;
  try {
    ns = fs.readlinkSync(`/proc/${pid1}/ns/pid`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/pid`) === ns) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * `docker top`: run ps on the host (default -ef, or the given options) and keep
 * the rows of the container's processes, found by the PID column.
 */
export function top(
  containers: ContainerStore,
  c: ContainerRecord,
  psArgs: string[],
): { Titles: string[]; Processes: string[][] } {
  const now = containers.tryGet(c.ID) ?? c;
  if (!now.State.Running || !now.State.Pid || !containers.isLive(c.ID))
    throw conflict('not_running', `container ${c.ID.slice(0, 12)} is not running`);
  const pids = new Set(containerPids(now.State.Pid));
  const args = psArgs.length ? psArgs : ['-ef'];
  const r = spawnSync('ps', args, { encoding: 'utf8' });
  if (r.status !== 0) throw invalid('ps_failed', `ps ${args.join(' ')} failed: ${(r.stderr || '').trim()}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  const header = lines[0]!.trim().split(/\s+/);
  const pidCol = header.indexOf('PID');
  if (pidCol < 0) throw invalid('ps_failed', `couldn't find PID field in ps output (ps ${args.join(' ')})`);
  const processes: string[][] = [];
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (!pids.has(Number(f[pidCol]))) continue;
    // the last column (the command) keeps its spaces
    processes.push([...f.slice(0, header.length - 1), f.slice(header.length - 1).join(' ')]);
  }
  return { Titles: header, Processes: processes };
}
