import { invalid } from '../../core/errors.js';
import { splitRepoTag } from '../../engine/syntax.js';
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
    // the API takes repo and tag apart, as Docker's CLI sends them
    const ref = args[1] ? splitRepoTag(args[1]) : undefined;
    const { Id } = await (
      await ctx.engine()
    ).containers.commit(args[0]!, {
      repo: ref?.repo,
      tag: ref?.tag,
      author: o.author as string | undefined,
      comment: o.message as string | undefined,
      changes: (o.change as string[] | undefined) ?? [],
      pause: o.pause !== false,
    });
    ctx.out(Id);
  },
};
