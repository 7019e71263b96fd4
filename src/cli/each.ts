import { BerthError } from '../core/errors.js';
import type { Context } from './context.js';

/**
 * Apply fn to each name (containers, volumes), printing each name once done, as Docker
 * does; errors are reported ("Error response from berth: ...") and make the exit status 1.
 */
export async function eachName(ctx: Context, names: string[], fn: (name: string) => Promise<unknown>): Promise<number> {
  let status = 0;
  for (const a of names) {
    try {
      await fn(a);
      ctx.out(a);
    } catch (err) {
      if (!(err instanceof BerthError)) throw err;
      ctx.err(`Error response from berth: ${err.message}`);
      status = 1;
    }
  }
  return status;
}
