import type { VersionResponse } from '../../engine/system-types.js';
import type { Command } from '../context.js';
import { renderTemplate } from '../format/template.js';
// (the client is the same program and build as the engine: one version, package.json's, checked by a unit test)
import { ENGINE_VERSION as VERSION } from '../../engine/system-host.js';

/** The docker CLI's `version`: this client, then the engine it uses (berth's, in this process) and its runtimes. */
export const version: Command = {
  names: [['version']],
  usage: 'version [OPTIONS]',
  summary: 'Show the berth version information',
  options: { format: { type: 'string', short: 'f' } },
  async run(ctx, _args, o) {
    const engine = await ctx.engine();
    const server = await engine.system.version();
    const data = { Client: clientVersion(server), Server: server };
    const format = o.format as string | undefined;
    if (format) {
      ctx.out(
        renderTemplate(format === 'json' ? '{{json .}}' : format, data, { name: 'version', missingKey: 'error' }),
      );
      return;
    }
    ctx.print(versionText(data));
  },
};

/** The client half: the same program and build as the engine (berth has no separate client yet). */
export function clientVersion(server: VersionResponse) {
  const engine = server.Components.find((c) => c.Name === 'Engine');
  return {
    Version: VERSION,
    ApiVersion: server.ApiVersion,
    DefaultAPIVersion: server.ApiVersion,
    GitCommit: server.GitCommit,
    GoVersion: process.version,
    Os: server.Os,
    Arch: server.Arch,
    BuildTime: engine?.Details.BuildTime ?? '',
    Context: 'default',
  };
}

/** docker's version template, its cells padded as its tabwriter pads them (min width 20, padding 1). */
export function versionText(data: { Client: ReturnType<typeof clientVersion>; Server: VersionResponse }): string {
  const row = (indent: string, k: string, v: string) => `${`${indent}${k}:`.padEnd(19)} ${v}`;
  const c = data.Client;
  const out = [
    'Client:',
    row(' ', 'Version', c.Version),
    row(' ', 'API version', c.ApiVersion),
    row(' ', 'Node version', c.GoVersion),
    row(' ', 'Git commit', c.GitCommit),
    row(' ', 'Built', c.BuildTime),
    row(' ', 'OS/Arch', `${c.Os}/${c.Arch}`),
    row(' ', 'Context', c.Context),
    '',
    `Server:${data.Server.Platform.Name ? ` ${data.Server.Platform.Name}` : ''}`,
  ];
  for (const comp of data.Server.Components) {
    out.push(` ${comp.Name}:`);
    if (comp.Name === 'Engine') {
      const d = comp.Details;
      out.push(
        row('  ', 'Version', comp.Version),
        row('  ', 'API version', `${d.ApiVersion} (minimum version ${d.MinAPIVersion})`),
        row('  ', 'Node version', d.GoVersion ?? ''),
        row('  ', 'Git commit', d.GitCommit ?? ''),
        row('  ', 'Built', d.BuildTime ?? ''),
        row('  ', 'OS/Arch', `${d.Os}/${d.Arch}`),
        row('  ', 'Experimental', d.Experimental ?? 'false'),
      );
    } else {
      out.push(row('  ', 'Version', comp.Version));
      for (const k of Object.keys(comp.Details).sort()) out.push(row('  ', k, comp.Details[k]!));
    }
  }
  return `${out.join('\n')}\n`;
}
