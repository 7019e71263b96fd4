import { invalid } from '../../core/errors.js';
import { commitContainer } from '../../container/commit.js';
import { ContainerStore } from '../../container/store.js';
import { parseReference, withDefaultTag } from '../../image/reference.js';
import type { Command } from '../context.js';

export const commit: Command = {
  names: [['commit'], ['container', 'commit']],
  usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  summary: "Create a new image from a container's changes",
  options: {
    author: { type: 'string', short: 'a' },
    message: { type: 'string', short: 'm' },
    change: { type: 'string', short: 'c', multiple: true },
    pause: { type: 'boolean', short: 'p' },
  },
  async run(ctx, args, o) {
    if (args.length < 1 || args.length > 2) throw invalid('usage', '"commit" requires 1 or 2 arguments');
    const store = await ctx.store();
    const c = new ContainerStore(store).resolve(args[0]!);
    const tags = args[1] ? [withDefaultTag(parseReference(args[1]))] : [];
    const id = await commitContainer(new ContainerStore(store), c, {
      author: o.author as string | undefined,
      message: o.message as string | undefined,
      changes: (o.change as string[] | undefined) ?? [],
      tags,
    });
    ctx.out(id);
  },
};
