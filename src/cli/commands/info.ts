import type { SystemInfo } from '../../engine/system-types.js';
import type { Command } from '../context.js';
import { renderTemplate } from '../format/template.js';
import { bytesSize } from '../format/units.js';
// (the client is the same program and build as the engine: one version, package.json's, checked by a unit test)
import { ENGINE_VERSION as VERSION } from '../../engine/system-host.js';

/** The docker CLI's `info` (and `system info`): the client, then the engine's GET /info, warnings on stderr. */
export const info: Command = {
  names: [['info'], ['system', 'info']],
  usage: 'info [OPTIONS]',
  summary: 'Display system-wide information',
  options: { format: { type: 'string', short: 'f' } },
  async run(ctx, _args, o) {
    const engine = await ctx.engine();
    const server = await engine.system.info();
    const clientInfo = {
      Debug: server.Debug,
      Version: VERSION,
      Context: 'default',
      Plugins: [] as unknown[],
      Warnings: null,
    };
    const format = o.format as string | undefined;
    if (format) {
      ctx.out(
        renderTemplate(
          format === 'json' ? '{{json .}}' : format,
          { ...server, ClientInfo: clientInfo },
          { name: 'info', missingKey: 'error' },
        ),
      );
      return;
    }
    ctx.print(
      [
        'Client:',
        ` Version:    ${VERSION}`,
        ' Context:    default',
        ` Debug Mode: ${clientInfo.Debug}`,
        '',
        'Server:',
        ...serverLines(server),
        '',
      ].join('\n'),
    );
    for (const w of server.Warnings ?? []) ctx.stderr.write(`${w}\n`);
  },
};

/** docker 28's prettyPrintServerInfo for the fields berth has (no swarm, containerd or init binary). */
export function serverLines(i: SystemInfo): string[] {
  const out = [
    ` Containers: ${i.Containers}`,
    `  Running: ${i.ContainersRunning}`,
    `  Paused: ${i.ContainersPaused}`,
    `  Stopped: ${i.ContainersStopped}`,
    ` Images: ${i.Images}`,
    ` Server Version: ${i.ServerVersion}`,
    ` Storage Driver: ${i.Driver}`,
    ...i.DriverStatus.map(([k, v]) => `  ${k}: ${v}`),
    ` Logging Driver: ${i.LoggingDriver}`,
    ` Cgroup Driver: ${i.CgroupDriver}`,
    ` Cgroup Version: ${i.CgroupVersion}`,
    ' Plugins:',
    `  Volume: ${i.Plugins.Volume.join(' ')}`,
    `  Network: ${i.Plugins.Network.join(' ')}`,
    ...(i.Plugins.Authorization?.length ? [`  Authorization: ${i.Plugins.Authorization.join(' ')}`] : []),
    `  Log: ${i.Plugins.Log.join(' ')}`,
    ` Swarm: ${i.Swarm.LocalNodeState}`,
    ` Runtimes: ${Object.keys(i.Runtimes).sort().join(' ')}`,
    ` Default Runtime: ${i.DefaultRuntime}`,
    ...(i.RuncCommit.ID ? [` runc version: ${i.RuncCommit.ID}`] : []),
  ];
  if (i.SecurityOptions.length) {
    out.push(' Security Options:');
    for (const so of i.SecurityOptions) {
      const kv = so.split(',').map((p) => p.split('=') as [string, string]);
      out.push(`  ${kv.find(([k]) => k === 'name')?.[1] ?? so}`);
      for (const [k, v] of kv) if (k === 'profile') out.push(`   Profile: ${v}`);
    }
  }
  out.push(
    ` Kernel Version: ${i.KernelVersion}`,
    ` Operating System: ${i.OperatingSystem}`,
    ` OSType: ${i.OSType}`,
    ` Architecture: ${i.Architecture}`,
    ` CPUs: ${i.NCPU}`,
    ` Total Memory: ${bytesSize(i.MemTotal)}`,
    ` Name: ${i.Name}`,
    ` ID: ${i.ID}`,
    ` Docker Root Dir: ${i.DockerRootDir}`,
    ` Debug Mode: ${i.Debug}`,
  );
  if (i.Debug)
    out.push(
      `  File Descriptors: ${i.NFd}`,
      `  Goroutines: ${i.NGoroutines}`,
      `  System Time: ${i.SystemTime}`,
      `  EventsListeners: ${i.NEventsListener}`,
    );
  if (i.HttpProxy) out.push(` HTTP Proxy: ${i.HttpProxy}`);
  if (i.HttpsProxy) out.push(` HTTPS Proxy: ${i.HttpsProxy}`);
  if (i.NoProxy) out.push(` No Proxy: ${i.NoProxy}`);
  if (i.Labels.length) out.push(' Labels:', ...i.Labels.map((l) => `  ${l}`));
  out.push(` Experimental: ${i.ExperimentalBuild}`);
  const insecureNames = Object.values(i.RegistryConfig.IndexConfigs).filter((c) => !c.Secure);
  if (i.RegistryConfig.InsecureRegistryCIDRs.length || insecureNames.length)
    out.push(
      ' Insecure Registries:',
      ...insecureNames.map((c) => `  ${c.Name}`),
      ...i.RegistryConfig.InsecureRegistryCIDRs.map((c) => `  ${c}`),
    );
  if (i.RegistryConfig.Mirrors.length) out.push(' Registry Mirrors:', ...i.RegistryConfig.Mirrors.map((m) => `  ${m}`));
  out.push(` Live Restore Enabled: ${i.LiveRestoreEnabled}`);
  return out;
}
