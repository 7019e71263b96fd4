import type { Command } from '../context.js';

export const systemCheck: Command = {
  names: [['system', 'check']],
  usage: 'system check [--repair] [--quick]',
  summary:
    'Verify the whole store (digests, chainIDs, cache-ids, links, lowers, sizes, references); --repair removes leftovers of interrupted work',
  options: { repair: { type: 'boolean' }, quick: { type: 'boolean' } },
  async run(ctx, _args, o) {
    const engine = await ctx.engine();
    // containers whose berth process was killed: unmounted and marked exited first (removed if --rm)
    for (const id of await engine.containers.settle())
      ctx.out(`recovered: container ${id.slice(0, 12)} (its berth process was killed)`);
    const { findings, images, layers } = await engine.images.check({ content: !o.quick, repair: !!o.repair });
    const problems = findings.filter((f) => f.severity === 'problem');
    const leftovers: Array<{ where: string; message: string }> = findings.filter((f) => f.severity === 'leftover');
    // the bridge's netns mounts, CNI results and leases (host-wide, /run/berth) of containers that are gone
    // (of a removed container of this store: a leftover; of no store that exists: listed, not counted against it)
    const orphans: string[] = [];
    for (const l of await engine.containers.networkLeftovers(!!o.repair)) {
      const f = { where: `network ${l.id.slice(0, 12)} (${l.where.join(', ')})`, message: l.message };
      if (l.mine) leftovers.push(f);
      else
        orphans.push(
          `${o.repair ? 'removed' : 'orphan'}: ${f.where}: ${f.message}${o.repair ? '' : ' (--repair removes it)'}`,
        );
    }
    for (const line of orphans) ctx.out(line);
    for (const f of problems) ctx.out(`problem: ${f.where}: ${f.message}`);
    for (const f of leftovers) ctx.out(`${o.repair ? 'removed' : 'leftover'}: ${f.where}: ${f.message}`);
    // information: what interrupted pulls kept for the next one to resume
    for (const f of findings) if (f.severity === 'partial') ctx.out(`partial: ${f.where}: ${f.message}`);
    if (problems.length === 0 && (leftovers.length === 0 || o.repair)) {
      ctx.out(
        `store ${engine.root}: ok (${images} images, ${layers} layers${o.repair && leftovers.length ? `, ${leftovers.length} leftovers removed` : ''})`,
      );
      return 0;
    }
    ctx.out(
      `store ${engine.root}: ${problems.length} problems, ${leftovers.length} leftovers${leftovers.length ? ' (berth system check --repair removes them)' : ''}`,
    );
    return 1;
  },
};
