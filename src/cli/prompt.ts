import type { Context } from './context.js';

/**
 * The docker CLI's confirmation: print the question with " [y/N] " and read
 * one line from stdin, terminal or not; only "y" (any case, spaces trimmed)
 * says yes, end of input or an unreadable stdin says no.
 */
export async function confirm(ctx: Context, question: string): Promise<boolean> {
  ctx.stdout.write(`${question} [y/N] `);
  const line = await readLine(ctx.stdin);
  return line !== undefined && line.trim().toLowerCase() === 'y';
}

function readLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const done = (line: string | undefined) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
      resolve(line);
    };
    const onData = (d: Buffer | string) => {
      buf += String(d);
      const i = buf.indexOf('\n');
      if (i >= 0) done(buf.slice(0, i));
    };
    // a last line without a newline still counts, as bufio.Scanner returns it
    const onEnd = () => done(buf.length > 0 ? buf : undefined);
    const onError = () => done(undefined);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}
