import { BerthError, invalid } from '../../core/errors.js';
import type { NetworkInspect } from '../../engine/networks.js';
import type { Command } from '../context.js';
import { eachName } from '../each.js';
import { filterFlags, filterMap } from '../filters.js';
import { formatOutput } from '../format/table.js';
import { renderTemplate } from '../format/template.js';
import { confirm } from '../prompt.js';

const HEADERS = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

/** `--label k=v` / `-o k=v` flags as a map ("k" alone: an empty value). */
function keyValues(items: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of (items as string[] | undefined) ?? []) {
    const i = s.indexOf('=');
    out[i < 0 ? s : s.slice(0, i)] = i < 0 ? '' : s.slice(i + 1);
  }
  return out;
}

export const networkCreate: Command = {
  names: [['network', 'create']],
  usage: 'network create [OPTIONS] NETWORK',
  summary: 'Create a network',
  options: {
    driver: { type: 'string', short: 'd', default: 'bridge' },
    subnet: { type: 'string', multiple: true },
    gateway: { type: 'string', multiple: true },
    'ip-range': { type: 'string', multiple: true },
    internal: { type: 'boolean' },
    label: { type: 'string', multiple: true },
    opt: { type: 'string', short: 'o', multiple: true },
    'ipam-driver': { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length !== 1) throw invalid('usage', '"network create" requires exactly 1 argument');
    const subnets = (o.subnet as string[] | undefined) ?? [];
    const gateways = (o.gateway as string[] | undefined) ?? [];
    const ranges = (o['ip-range'] as string[] | undefined) ?? [];
    if (subnets.length > 1 || gateways.length > 1 || ranges.length > 1)
      throw invalid('unsupported', 'network create: one --subnet (with one --gateway and --ip-range) per network');
    const config = {
      ...(subnets[0] ? { Subnet: subnets[0] } : {}),
      ...(gateways[0] ? { Gateway: gateways[0] } : {}),
      ...(ranges[0] ? { IPRange: ranges[0] } : {}),
    };
    const res = await (
      await ctx.engine()
    ).networks.create({
      Name: args[0]!,
      Driver: o.driver as string,
      Internal: !!o.internal,
      IPAM: {
        ...(o['ipam-driver'] ? { Driver: o['ipam-driver'] as string } : {}),
        Config: Object.keys(config).length ? [config] : [],
      },
      Options: keyValues(o.opt),
      Labels: keyValues(o.label),
    });
    ctx.out(res.Id);
  },
};

/** A row as the docker CLI's network context has it. */
function row(n: NetworkInspect, trunc: boolean): Record<string, string> {
  return {
    ID: trunc ? n.Id.slice(0, 12) : n.Id,
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv6: String(n.EnableIPv6),
    Internal: String(n.Internal),
    Labels: Object.entries(n.Labels)
      .map(([k, x]) => `${k}=${x}`)
      .sort()
      .join(','),
    CreatedAt: n.Created,
  };
}

export const networkLs: Command = {
  names: [
    ['network', 'ls'],
    ['network', 'list'],
  ],
  usage: 'network ls [OPTIONS]',
  summary: 'List networks',
  options: {
    quiet: { type: 'boolean', short: 'q' },
    format: { type: 'string' },
    filter: { type: 'string', short: 'f', multiple: true },
    'no-trunc': { type: 'boolean' },
  },
  async run(ctx, args, o) {
    if (args.length) throw invalid('usage', '"network ls" accepts no arguments');
    const nets = (await ctx.engine()).networks
      .list({ filters: filterMap(filterFlags(o)) })
      .sort((a, b) => a.Name.localeCompare(b.Name));
    const trunc = !o['no-trunc'];
    if (o.quiet) {
      for (const n of nets) ctx.out(trunc ? n.Id.slice(0, 12) : n.Id);
      return;
    }
    const rows = nets.map((n) => row(n, trunc));
    ctx.stdout.write(
      formatOutput(o.format as string | undefined, 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', HEADERS, rows),
    );
  },
};

export const networkInspect: Command = {
  names: [['network', 'inspect']],
  usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]',
  summary: 'Display detailed information on one or more networks',
  options: { format: { type: 'string', short: 'f' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"network inspect" requires at least 1 argument');
    const engine = await ctx.engine();
    const found: NetworkInspect[] = [];
    let status = 0;
    for (const a of args) {
      try {
        found.push(engine.networks.inspect(a));
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        ctx.err(`Error response from daemon: ${err.message}`);
        status = 1;
      }
    }
    const format = o.format as string | undefined;
    if (format && format !== 'json') {
      for (const n of found) ctx.out(renderTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'), n));
    } else ctx.out(JSON.stringify(found, null, 4));
    return status;
  },
};

export const networkRm: Command = {
  names: [
    ['network', 'rm'],
    ['network', 'remove'],
  ],
  usage: 'network rm [OPTIONS] NETWORK [NETWORK...]',
  summary: 'Remove one or more networks (never one a running container uses)',
  options: { force: { type: 'boolean', short: 'f' } },
  async run(ctx, args, o) {
    if (args.length === 0) throw invalid('usage', '"network rm" requires at least 1 argument');
    const engine = await ctx.engine();
    return eachName(ctx, args, async (a) => {
      try {
        await engine.networks.remove(a);
      } catch (err) {
        // -f: a network that does not exist is no error
        if (o.force && err instanceof BerthError && err.kind === 'NotFound') return;
        throw err;
      }
    });
  },
};

export const networkPrune: Command = {
  names: [['network', 'prune']],
  usage: 'network prune [OPTIONS]',
  summary: 'Remove all unused networks',
  options: {
    force: { type: 'boolean', short: 'f' },
    filter: { type: 'string', multiple: true },
  },
  async run(ctx, args, o) {
    if (args.length) throw invalid('usage', '"network prune" accepts no arguments');
    const filters = filterMap(filterFlags(o));
    const engine = await ctx.engine();
    const question =
      'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';
    if (!o.force && !(await confirm(ctx, question))) return;
    const res = await engine.networks.prune({ filters });
    if (res.NetworksDeleted.length) ctx.stdout.write(`Deleted Networks:\n${res.NetworksDeleted.join('\n')}\n\n`);
  },
};

export const networkConnect: Command = {
  names: [['network', 'connect']],
  usage: 'network connect [OPTIONS] NETWORK CONTAINER',
  summary: 'Connect a container to a network',
  options: {
    alias: { type: 'string', multiple: true },
    ip: { type: 'string' },
  },
  async run(ctx, args, o) {
    if (args.length !== 2) throw invalid('usage', '"network connect" requires exactly 2 arguments');
    const aliases = (o.alias as string[] | undefined) ?? [];
    await (
      await ctx.engine()
    ).networks.connect(args[0]!, args[1]!, {
      ...(aliases.length ? { Aliases: aliases } : {}),
      ...(o.ip ? { IPAMConfig: { IPv4Address: o.ip as string } } : {}),
    });
  },
};

export const networkDisconnect: Command = {
  names: [['network', 'disconnect']],
  usage: 'network disconnect [OPTIONS] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network',
  options: { force: { type: 'boolean', short: 'f' } },
  async run(ctx, args, o) {
    if (args.length !== 2) throw invalid('usage', '"network disconnect" requires exactly 2 arguments');
    await (await ctx.engine()).networks.disconnect(args[0]!, args[1]!, { force: !!o.force });
  },
};
