import { invalid } from '../../core/errors.js';
import {
  DOCKER_HUB_AUTH_KEY,
  configPath,
  eraseCredentials,
  readDockerConfig,
  storeCredentials,
  storeKey,
} from '../../engine/client-config.js';
import type { Command, Context } from '../context.js';
import { dockerConfigDir } from './registry-auth.js';

export const login: Command = {
  names: [['login']],
  usage: 'login [OPTIONS] [SERVER]',
  summary: 'Log in to a registry (Docker Hub when no SERVER is given)',
  options: {
    username: { type: 'string', short: 'u' },
    password: { type: 'string', short: 'p' },
    'password-stdin': { type: 'boolean' },
  },
  async run(ctx, args, o) {
    if (args.length > 1) throw invalid('usage', '"login" requires at most 1 argument');
    const server = args[0] ?? DOCKER_HUB_AUTH_KEY;
    let user = typeof o.username === 'string' ? o.username : undefined;
    let password = typeof o.password === 'string' ? o.password : undefined;
    if (password !== undefined) {
      ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
      if (o['password-stdin']) throw invalid('usage', '--password and --password-stdin are mutually exclusive');
    }
    if (o['password-stdin']) {
      if (user === undefined) throw invalid('usage', 'Must provide --username with --password-stdin');
      password = (await readAll(ctx.stdin)).replace(/\n$/, '').replace(/\r$/, '');
    }
    if (user === undefined || password === undefined) {
      if (!ctx.stdin.isTTY) throw invalid('usage', 'Cannot perform an interactive login from a non TTY device');
      if (user === undefined) user = (await prompt(ctx, 'Username: ', true)).trim();
      if (password === undefined) password = await prompt(ctx, 'Password: ', false);
    }
    if (!user) throw invalid('usage', 'Username: Error: Non-null Username Required');
    if (!password) throw invalid('usage', 'Error: Password Required');
    const engine = await ctx.engine();
    const res = await engine.registries.login({ username: user, password, serveraddress: server });
    const dir = dockerConfigDir();
    const cfg = readDockerConfig(dir);
    if (!cfg.credsStore && !cfg.credHelpers?.[storeKey(server)])
      ctx.err(
        `WARNING! Your password will be stored unencrypted in ${configPath(dir)}.\n` +
          'Configure a credential helper to remove this warning. See\n' +
          'https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n',
      );
    storeCredentials(dir, server, user, password);
    ctx.out(res.Status);
  },
};

export const logout: Command = {
  names: [['logout']],
  usage: 'logout [SERVER]',
  summary: 'Log out from a registry (Docker Hub when no SERVER is given)',
  options: {},
  async run(ctx, args) {
    if (args.length > 1) throw invalid('usage', '"logout" requires at most 1 argument');
    const server = storeKey(args[0] ?? DOCKER_HUB_AUTH_KEY);
    if (!eraseCredentials(dockerConfigDir(), server)) {
      ctx.out(`Not logged in to ${server}`);
      return;
    }
    ctx.out(`Removing login credentials for ${server}`);
  },
};

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of stream as AsyncIterable<Buffer | string>) s += String(c);
  return s;
}

/** One line from the terminal; without echo for a password. */
function prompt(ctx: Context, question: string, echo: boolean): Promise<string> {
  ctx.stderr.write(question);
  const stdin = ctx.stdin as NodeJS.ReadStream;
  return new Promise((resolve) => {
    let buf = '';
    if (!echo) stdin.setRawMode?.(true);
    const onData = (d: Buffer | string) => {
      for (const ch of String(d)) {
        if (ch === '\n' || ch === '\r' || ch === '\u0004') {
          stdin.off('data', onData);
          if (!echo) {
            stdin.setRawMode?.(false);
            ctx.stderr.write('\n');
          }
          stdin.pause();
          resolve(buf);
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
