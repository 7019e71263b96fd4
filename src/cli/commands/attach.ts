import { invalid } from '../../core/errors.js';
import type { Command } from '../context.js';

export const attach: Command = {
  names: [['attach'], ['container', 'attach']],
  usage: 'attach [OPTIONS] CONTAINER',
  summary: 'Attach local standard input, output, and error streams to a running container',
  options: {
    'no-stdin': { type: 'boolean' },
    'detach-keys': { type: 'string', default: 'ctrl-p,ctrl-q' },
    'sig-proxy': { type: 'string', default: 'true' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"attach" requires exactly 1 argument');
    const engine = await ctx.engine();
    const a = await engine.containers.attach(args[0]!, {
      stream: true,
      stdin: !o['no-stdin'],
      detachKeys: o['detach-keys'] as string,
    });
    // --sig-proxy: signals to this process go to the container (not with a terminal: ^C is a byte for it)
    const proxy = o['sig-proxy'] !== 'false' && !a.tty;
    const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    const handler = (s: NodeJS.Signals) => {
      engine.containers.kill(a.Id, s).catch(() => {
        /* it ended */
      });
    };
    const stdin = ctx.stdin as NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
    const raw = a.tty && !!a.stdin && !!stdin.isTTY && !!stdin.setRawMode;
    const onInput = (d: Buffer) => a.stdin?.write(d);
    a.stdout.on('data', (d: Buffer) => ctx.stdout.write(d));
    a.stderr.on('data', (d: Buffer) => ctx.stderr.write(d));
    if (proxy) for (const s of sigs) process.on(s, handler);
    if (raw) stdin.setRawMode!(true);
    if (a.stdin) stdin.on('data', onInput);
    let how: 'ended' | 'detached';
    try {
      how = await a.done;
    } finally {
      if (proxy) for (const s of sigs) process.off(s, handler);
      if (a.stdin) {
        stdin.off('data', onInput);
        stdin.pause();
        // a piped stdin left open would keep this process alive after the detach
        (stdin as { destroy?: () => void }).destroy?.();
      }
      if (raw) stdin.setRawMode!(false);
    }
    if (how === 'detached') return 0;
    // the run ended: Docker's attach exits with the container's code (0 if it is not settled within a moment)
    const { StatusCode } = await engine.containers.wait(a.Id, { signal: AbortSignal.timeout(10000) });
    return StatusCode < 0 ? 0 : StatusCode;
  },
};
