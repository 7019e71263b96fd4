import { invalid, notFound } from '../../core/errors.js';
import { portLines, type PortMap } from '../../engine/ports.js';
import type { Command } from '../context.js';

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, as the docker CLI prints them. */
export const port: Command = {
  names: [['port'], ['container', 'port']],
  usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  summary: 'List port mappings or a specific mapping for the container',
  options: {},
  async run(ctx, args) {
    const [name, only, ...extra] = args;
    if (!name || extra.length)
      throw invalid('usage', '"port" requires 1 or 2 arguments: CONTAINER [PRIVATE_PORT[/PROTO]]');
    if (only !== undefined && !/^\d+(\/(tcp|udp|sctp))?$/.test(only))
      throw invalid('invalid_port', `invalid port ${JSON.stringify(only)}: PRIVATE_PORT[/PROTO]`);
    const info = await (await ctx.engine()).containers.inspect(name);
    const ports = (info.NetworkSettings as { Ports?: PortMap } | undefined)?.Ports;
    const lines = portLines(ports, only);
    if (only !== undefined && !lines.length)
      throw notFound('no_port', `No public port '${only.includes('/') ? only : `${only}/tcp`}' published for ${name}`);
    for (const l of lines) ctx.out(l);
  },
};
