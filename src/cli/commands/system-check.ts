import { checkStore } from '../../image/check.js';
import { ContainerStore } from '../../container/store.js';
import type { Command } from '../context.js';

export const systemCheck: Command = {
  names: [['system', 'check']],
  usage: 'system check [--repair] [--quick]',
  summary:
    'Verify the whole store (digests, chainIDs, cache-ids, links, lowers, sizes, references); --repair removes leftovers of interrupted work',
  options: { repair: { type: 'boolean' }, quick: { type: 'boolean' } },
  async run(ctx, _args, o) {
    const store = await ctx.store();
    // containers whose berth process was killed: unmounted and marked exited first (removed if --rm)
    for (const c of await new ContainerStore(store).reapStale())
      ctx.out(`recovered: container ${c.ID.slice(0, 12)} (its berth process was killed)`);
    const findings = await store.lock(() => checkStore(store, { content: !o.quick }));
    const problems = findings.filter((f) => f.severity === 'problem');
    const leftovers = findings.filter((f) => f.severity === 'leftover');
    for (const f of problems) ctx.out(`problem: ${f.where}: ${f.message}`);
    for (const f of leftovers) ctx.out(`${o.repair ? 'removed' : 'leftover'}: ${f.where}: ${f.message}`);
    if (o.repair && leftovers.length)
      await store.lock(() => {
        for (const f of leftovers) f.fix?.();
      });
    const layers = store.layers.list().length,
      images = store.images.list().length;
    if (problems.length === 0 && (leftovers.length === 0 || o.repair)) {
      ctx.out(
        `store ${store.paths.root}: ok (${images} images, ${layers} layers${o.repair && leftovers.length ? `, ${leftovers.length} leftovers removed` : ''})`,
      );
      return 0;
    }
    ctx.out(
      `store ${store.paths.root}: ${problems.length} problems, ${leftovers.length} leftovers${leftovers.length ? ' (berth system check --repair removes them)' : ''}`,
    );
    return 1;
  },
};
