import { hexOf } from '../../core/digest.js';
import { ContainerStore } from '../../container/store.js';
import type { ContainerRecord } from '../../container/types.js';
import type { Command } from '../context.js';
import { formatOutput } from '../format/table.js';
import { createdSince, humanDuration } from '../format/units.js';

const HEADERS = { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', Names: 'NAMES', CreatedAt: 'CREATED AT', State: 'STATE' };

function status(c: ContainerRecord): string {
  const s = c.State;
  if (s.Running) return `Up ${humanDuration(Date.now() - Date.parse(s.StartedAt))}`;
  if (s.Status === 'created') return 'Created';
  return `Exited (${s.ExitCode}) ${createdSince(s.FinishedAt)}`;
}

export const ps: Command = {
  names: [['ps'], ['container', 'ls'], ['container', 'list']],
  usage: 'ps [OPTIONS]',
  summary: 'List containers',
  options: { all: { type: 'boolean', short: 'a' }, quiet: { type: 'boolean', short: 'q' }, 'no-trunc': { type: 'boolean' }, format: { type: 'string' } },
  async run(ctx, _args, o) {
    const store = await ctx.store();
    const containers = new ContainerStore(store);
    await containers.reapStale();
    const list = containers.list().filter((c) => o.all || c.State.Running).sort((a, b) => b.Created.localeCompare(a.Created));
    const rows = list.map((c) => {
      let command = [c.Path, ...c.Args].join(' ');
      if (!o['no-trunc'] && command.length > 20) command = `${command.slice(0, 19)}…`;
      return {
        ID: o['no-trunc'] ? c.ID : c.ID.slice(0, 12), Image: c.Config.Image || hexOf(c.Image).slice(0, 12), Command: `"${command}"`,
        RunningFor: createdSince(c.Created), Status: status(c), Ports: '', Names: c.Name.slice(1), CreatedAt: c.Created, State: c.State.Status,
      };
    });
    if (o.quiet) { for (const r of rows) ctx.out(r.ID); return; }
    ctx.stdout.write(formatOutput(o.format as string | undefined, 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}', HEADERS, rows));
  },
};
