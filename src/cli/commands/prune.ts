import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';
import { humanSize } from '../format/units.js';

export const imagePrune: Command = {
  names: [['image', 'prune']],
  usage: 'image prune [OPTIONS]',
  summary: 'Remove unused images (dangling only, or all unused with -a)',
  options: { all: { type: 'boolean', short: 'a' }, force: { type: 'boolean', short: 'f' }, filter: { type: 'string', multiple: true } },
  async run(ctx, _args, o) {
    if (!o.force) {
      if (!ctx.stdin.isTTY) throw invalid('usage', 'image prune: refusing to prune without confirmation; pass -f');
      ctx.stdout.write(o.all ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] '
        : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ');
      const answer = await new Promise<string>((res) => ctx.stdin.once('data', (d) => res(String(d))));
      if (!/^y(es)?$/i.test(answer.trim())) return;
    }
    const store = await ctx.store();
    const { deleted, reclaimed } = await store.prune(!!o.all);
    if (deleted.length) {
      ctx.out('Deleted Images:');
      for (const d of deleted) ctx.out(d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted}`);
      ctx.out('');
    }
    ctx.out(`Total reclaimed space: ${humanSize(reclaimed)}`);
  },
};
