/**
 * The engine's container operations called directly (no CLI in between),
 * on real containers in a temporary data root. Images are made with the CLI.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Engine } from '../../src/engine/engine.js';
import { BerthError, type ErrorKind } from '../../src/core/errors.js';
import type { ContainerCreateRequest } from '../../src/engine/container-types.js';
import { berthOk, tempRoot } from '../helpers/berth.js';

const tmp = tempRoot('berth-engine-ctr');
let engine: Engine;

before(async () => {
  berthOk(tmp.root, ['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
  const ctx = `${tmp.root}/ctx`;
  fs.mkdirSync(ctx);
  fs.writeFileSync(
    `${ctx}/Dockerfile`,
    [
      'FROM base',
      'ENTRYPOINT ["sh", "-c"]',
      'CMD ["exit 0"]',
      'ENV A=1 B=2',
      'WORKDIR /work',
      'USER 0',
      'LABEL from=image keep=yes',
      'HEALTHCHECK --interval=30s --timeout=5s CMD true',
      'STOPSIGNAL SIGUSR1',
      'EXPOSE 8080',
    ].join('\n'),
  );
  berthOk(tmp.root, ['build', '-q', '-t', 'cfg', ctx]);
  engine = await Engine.open({ root: tmp.root });
});

/** Processes working in the root: monitors end by becoming `berth container cleanup` for a moment. */
function processesIn(root: string): string[] {
  return fs.readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(root);
    } catch {
      return false;
    }
  });
}

after(async () => {
  for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
  for (let end = Date.now() + 10_000; processesIn(tmp.root).length && Date.now() < end;)
    await new Promise((r) => setTimeout(r, 50));
  tmp.remove();
});

function isError(kind: ErrorKind, code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof BerthError, `a BerthError, not ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

const sleeper = (name: string, extra: Partial<ContainerCreateRequest> = {}): ContainerCreateRequest => ({
  name,
  ...extra,
  Config: { Image: 'base', Cmd: ['sleep', '30'], ...extra.Config },
});

async function inspect(id: string) {
  return (await engine.containers.inspect(id)) as {
    Path: string;
    Args: string[];
    Name: string;
    Config: Record<string, unknown>;
    HostConfig: Record<string, unknown>;
    State: { Status: string; Running: boolean; Paused: boolean; ExitCode: number };
  };
}

test('create merges the image config under the caller’s', async () => {
  const { Id, Warnings } = await engine.containers.create({
    name: 'merged',
    Config: {
      Image: 'cfg',
      Env: ['B=3', 'C=4'],
      Labels: { from: 'caller' },
      Healthcheck: { Interval: 10e9 },
      ExposedPorts: { '9090/tcp': {} },
    },
  });
  assert.deepEqual(Warnings, []);
  const c = await inspect(Id);
  assert.equal(c.Name, '/merged');
  assert.equal(c.Path, 'sh');
  assert.deepEqual(c.Args, ['-c', 'exit 0']);
  assert.deepEqual(c.Config.Entrypoint, ['sh', '-c']);
  assert.deepEqual(c.Config.Cmd, ['exit 0']);
  assert.deepEqual(c.Config.Env, [
    ...(c.Config.Env as string[]).filter((e) => e.startsWith('PATH=')),
    'A=1',
    'B=3',
    'C=4',
  ]);
  assert.equal(c.Config.WorkingDir, '/work');
  assert.equal(c.Config.User, '0');
  assert.deepEqual(c.Config.Labels, { from: 'caller', keep: 'yes' });
  assert.deepEqual(c.Config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 10e9, Timeout: 5e9 });
  assert.equal(c.Config.StopSignal, 'SIGUSR1');
  assert.deepEqual(Object.keys(c.Config.ExposedPorts as object).sort(), ['8080/tcp', '9090/tcp']);
  assert.equal(c.Config.Image, 'cfg');
  // defaults of the HostConfig
  assert.equal(c.HostConfig.NetworkMode, 'bridge');
  assert.deepEqual(
    [c.HostConfig.Dns, c.HostConfig.DnsSearch, c.HostConfig.DnsOptions, c.HostConfig.ExtraHosts],
    [[], [], [], null],
  );
  assert.equal(c.HostConfig.Runtime, 'berth');
  assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.deepEqual(c.HostConfig.LogConfig, { Type: 'json-file', Config: {} });
});

test('create: the caller’s Cmd replaces the image’s; Entrypoint [""] resets both; NONE disables the healthcheck', async () => {
  const cases: Array<[Partial<ContainerCreateRequest['Config']>, string, string[], unknown]> = [
    [{ Cmd: ['exit 7'] }, 'sh', ['-c', 'exit 7'], { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 5e9 }],
    [{ Entrypoint: [''], Cmd: ['true'] }, 'true', [], { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 5e9 }],
    [{ Entrypoint: ['sleep'], Healthcheck: { Test: ['NONE'] } }, 'sleep', [], { Test: ['NONE'] }],
  ];
  for (const [config, path, args, health] of cases) {
    const { Id } = await engine.containers.create({ Config: { Image: 'cfg', ...config } });
    const c = await inspect(Id);
    assert.equal(c.Path, path, JSON.stringify(config));
    assert.deepEqual(c.Args, args, JSON.stringify(config));
    assert.deepEqual(c.Config.Healthcheck, health, JSON.stringify(config));
    await engine.containers.remove(Id);
  }
});

test('create refuses bad requests with their kinds and leaves the store as it was', async () => {
  const cases: Array<[string, ContainerCreateRequest, ErrorKind, string]> = [
    ['no image', { Config: { Image: '' } }, 'InvalidArgument', 'usage'],
    ['unknown image', { Config: { Image: 'nosuch:1' } }, 'NotFound', 'image_not_found'],
    ['no command', { Config: { Image: 'base', Entrypoint: [''] } }, 'InvalidArgument', 'no_command'],
    ['unknown network', { ...sleeper(''), HostConfig: { NetworkMode: 'mynet' } }, 'NotFound', 'network_not_found'],
    [
      'network name',
      { ...sleeper(''), HostConfig: { NetworkMode: 'my/net' } },
      'InvalidArgument',
      'invalid_network_name',
    ],
    ['runtime', { ...sleeper(''), HostConfig: { Runtime: 'kata' as never } }, 'InvalidArgument', 'unsupported'],
    [
      'restart with AutoRemove',
      { ...sleeper(''), HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } },
      'InvalidArgument',
      'invalid_restart',
    ],
    [
      'restart name',
      { ...sleeper(''), HostConfig: { RestartPolicy: { Name: 'sometimes' as never, MaximumRetryCount: 0 } } },
      'InvalidArgument',
      'invalid_restart',
    ],
    [
      'retry count without on-failure',
      { ...sleeper(''), HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 3 } } },
      'InvalidArgument',
      'invalid_restart',
    ],
    [
      'ulimit name',
      { ...sleeper(''), HostConfig: { Ulimits: [{ Name: 'files', Soft: 1, Hard: 1 }] } },
      'InvalidArgument',
      'invalid_ulimit',
    ],
    [
      'ulimit soft > hard',
      { ...sleeper(''), HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] } },
      'InvalidArgument',
      'invalid_ulimit',
    ],
    [
      'device path',
      {
        ...sleeper(''),
        HostConfig: { Devices: [{ PathOnHost: 'sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] },
      },
      'InvalidArgument',
      'invalid_device',
    ],
    [
      'device permissions',
      {
        ...sleeper(''),
        HostConfig: { Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'x' }] },
      },
      'InvalidArgument',
      'invalid_device',
    ],
    ['security opt', { ...sleeper(''), HostConfig: { SecurityOpt: ['apparmor=x'] } }, 'InvalidArgument', 'unsupported'],
    [
      'log driver',
      { ...sleeper(''), HostConfig: { LogConfig: { Type: 'syslog' as never, Config: {} } } },
      'InvalidArgument',
      'unsupported',
    ],
    [
      'log opt',
      { ...sleeper(''), HostConfig: { LogConfig: { Type: 'json-file', Config: { compress: 'true' } } } },
      'InvalidArgument',
      'invalid_log_opt',
    ],
    ['tmpfs path', { ...sleeper(''), HostConfig: { Tmpfs: { tmp: '' } } }, 'InvalidArgument', 'invalid_tmpfs'],
    ['memory too small', { ...sleeper(''), HostConfig: { Memory: 1024 } }, 'InvalidArgument', 'invalid_resources'],
    [
      'swap below memory',
      { ...sleeper(''), HostConfig: { Memory: 64 << 20, MemorySwap: 32 << 20 } },
      'InvalidArgument',
      'invalid_resources',
    ],
    ['cpus', { ...sleeper(''), HostConfig: { NanoCpus: 1e15 } }, 'InvalidArgument', 'invalid_resources'],
    [
      'stop signal',
      { ...sleeper(''), Config: { Image: 'base', Cmd: ['true'], StopSignal: 'SIGNOPE' } },
      'InvalidArgument',
      'invalid_signal',
    ],
    [
      'healthcheck interval',
      {
        ...sleeper(''),
        Config: { Image: 'base', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'], Interval: 10 } },
      },
      'InvalidArgument',
      'invalid_healthcheck',
    ],
  ];
  const before = (await engine.containers.list({ all: true })).length;
  for (const [what, req, kind, code] of cases) {
    await assert.rejects(engine.containers.create({ ...req, name: undefined }), isError(kind, code), what);
  }
  assert.equal((await engine.containers.list({ all: true })).length, before);
});

test('create returns warnings rather than printing them', async () => {
  const { Id, Warnings } = await engine.containers.create({
    ...sleeper('warned'),
    HostConfig: { OomKillDisable: true },
  });
  assert.equal(Warnings.length, 1);
  assert.match(Warnings[0]!, /OOM killer is disabled/);
  await engine.containers.remove(Id);
});

test('list: all, limit, size and each filter', async () => {
  const a = (
    await engine.containers.create({
      ...sleeper('list-a'),
      Config: { Image: 'base', Cmd: ['sh', '-c', 'exit 3'], Labels: { tier: 'a' } },
    })
  ).Id;
  const b = (
    await engine.containers.create({
      ...sleeper('list-b'),
      Config: { Image: 'base', Cmd: ['sleep', '30'], Labels: { tier: 'b' } },
    })
  ).Id;
  await engine.containers.start(a);
  assert.equal((await engine.containers.wait(a)).StatusCode, 3);
  await engine.containers.start(b);
  try {
    const names = async (opts: Parameters<typeof engine.containers.list>[0]) =>
      (await engine.containers.list(opts)).map((c) => c.Names[0]).filter((n) => n!.startsWith('/list-'));
    assert.deepEqual(await names({}), ['/list-b']);
    assert.deepEqual(await names({ all: true }), ['/list-b', '/list-a']);
    assert.equal((await engine.containers.list({ limit: 1 })).length, 1);
    const table: Array<[Record<string, string[]>, string[]]> = [
      [{ status: ['exited'] }, ['/list-a']],
      [{ status: ['running', 'exited'] }, ['/list-b', '/list-a']],
      [{ name: ['list-a'] }, ['/list-a']],
      [{ id: [b.slice(0, 10)] }, ['/list-b']],
      [{ label: ['tier=a'] }, ['/list-a']],
      [{ label: ['tier'] }, ['/list-b', '/list-a']],
      [{ exited: ['3'] }, ['/list-a']],
      [{ exited: ['0'] }, []],
      [{ ancestor: ['base'] }, ['/list-b', '/list-a']],
      [{ ancestor: ['cfg'] }, []],
      [{ since: ['list-a'] }, ['/list-b']],
      [{ before: ['list-b'] }, ['/list-a']],
      [{ health: ['none'] }, ['/list-b', '/list-a']],
    ];
    for (const [filters, want] of table)
      assert.deepEqual(await names({ all: true, filters }), want, JSON.stringify(filters));
    await assert.rejects(
      engine.containers.list({ filters: { colour: ['red'] } }),
      isError('InvalidArgument', 'invalid_filter'),
    );
    await assert.rejects(
      engine.containers.list({ filters: { status: ['asleep'] } }),
      isError('InvalidArgument', 'invalid_filter'),
    );
    const [sb] = await engine.containers.list({ filters: { name: ['list-b'] }, size: true });
    assert.equal(sb!.Id, b);
    assert.equal(sb!.Image, 'base');
    assert.match(sb!.ImageID, /^sha256:[0-9a-f]{64}$/);
    assert.equal(sb!.Command, 'sleep 30');
    assert.equal(sb!.State, 'running');
    assert.match(sb!.Status, /^Up /);
    assert.ok(Math.abs(sb!.Created - Date.now() / 1000) < 120);
    assert.deepEqual(sb!.Labels, { tier: 'b' });
    assert.deepEqual(sb!.HostConfig, { NetworkMode: 'bridge' });
    assert.equal(typeof sb!.SizeRw, 'number');
    assert.ok(sb!.SizeRootFs! >= sb!.SizeRw!);
    const [sa] = await engine.containers.list({ all: true, filters: { name: ['list-a'] } });
    assert.match(sa!.Status, /^Exited \(3\) .* ago$/);
    assert.equal(sa!.SizeRw, undefined);
  } finally {
    await engine.containers.remove(b, { force: true });
    await engine.containers.remove(a);
  }
});

test('lifecycle: pause, unpause, stop, restart, kill; conflicts where Docker has them', async () => {
  const { Id } = await engine.containers.create(sleeper('life'));
  await engine.containers.start(Id);
  await engine.containers.start(Id); // a running one: nothing to do
  await engine.containers.pause('life');
  assert.equal((await engine.containers.list({ filters: { status: ['paused'] } }))[0]?.State, 'paused');
  await assert.rejects(engine.containers.pause('life'), isError('Conflict', 'already_paused'));
  await engine.containers.unpause('life');
  await assert.rejects(engine.containers.unpause('life'), isError('Conflict', 'not_paused'));
  await engine.containers.stop('life', { t: 0 });
  assert.equal((await inspect(Id)).State.Running, false);
  await engine.containers.restart('life', { t: 0 });
  assert.equal((await inspect(Id)).State.Running, true);
  await engine.containers.kill('life');
  assert.equal((await engine.containers.wait('life')).StatusCode, 137);
  await assert.rejects(engine.containers.kill('life', 'SIGNOPE'), isError('InvalidArgument', 'invalid_signal'));
  await engine.containers.remove('life');
  await assert.rejects(engine.containers.inspect('life'), isError('NotFound', 'container_not_found'));
});

test('wait: not-running at once for a stopped container, next-exit for the next run, removed for AutoRemove', async () => {
  const { Id } = await engine.containers.create({
    name: 'waiter',
    Config: { Image: 'base', Cmd: ['sh', '-c', 'exit 5'] },
  });
  assert.deepEqual(await engine.containers.wait(Id, { condition: 'not-running' }), { StatusCode: 0 });
  const next = engine.containers.wait(Id, { condition: 'next-exit' });
  await new Promise((r) => setTimeout(r, 200));
  await engine.containers.start(Id);
  assert.deepEqual(await next, { StatusCode: 5 });
  await engine.containers.remove(Id);

  // a container its policy restarts: next-exit sees the end of one run, not-running would wait for its last
  const again = await engine.containers.create({
    Config: { Image: 'base', Cmd: ['sh', '-c', 'sleep 0.5; exit 6'] },
    HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } },
  });
  await engine.containers.start(again.Id);
  assert.deepEqual(await engine.containers.wait(again.Id, { condition: 'next-exit' }), { StatusCode: 6 });
  assert.equal((await inspect(again.Id)).State.Status === 'exited', false, 'restarted by its policy');
  await engine.containers.remove(again.Id, { force: true });

  const rm = await engine.containers.create({
    Config: { Image: 'base', Cmd: ['sh', '-c', 'sleep 0.3; exit 2'] },
    HostConfig: { AutoRemove: true },
  });
  await engine.containers.start(rm.Id);
  assert.equal((await engine.containers.wait(rm.Id, { condition: 'removed' })).StatusCode, 2);
  await assert.rejects(engine.containers.inspect(rm.Id), isError('NotFound', 'container_not_found'));
});

test('remove: a running container only with force', async () => {
  const { Id } = await engine.containers.create(sleeper('busy'));
  await engine.containers.start(Id);
  await assert.rejects(engine.containers.remove('busy'), isError('Conflict', 'container_running'));
  assert.equal((await inspect(Id)).State.Running, true);
  await engine.containers.remove('busy', { force: true });
  await assert.rejects(engine.containers.inspect(Id), isError('NotFound', 'container_not_found'));
  await assert.rejects(engine.containers.remove('busy'), isError('NotFound', 'container_not_found'));
});

test('rename: unique names, valid names, the old name freed', async () => {
  const x = (await engine.containers.create(sleeper('ren-x'))).Id;
  const y = (await engine.containers.create(sleeper('ren-y'))).Id;
  await assert.rejects(engine.containers.rename('ren-x', 'ren-y'), isError('Conflict', 'name_in_use'));
  await assert.rejects(engine.containers.rename('ren-x', 'bad name!'), isError('InvalidArgument', 'invalid_name'));
  await assert.rejects(engine.containers.create(sleeper('ren-y')), isError('Conflict', 'name_in_use'));
  await engine.containers.rename('ren-x', 'ren-z');
  assert.equal((await inspect(x)).Name, '/ren-z');
  await engine.containers.rename(y, 'ren-x');
  assert.equal((await inspect('ren-x')).Name, '/ren-x');
  await engine.containers.remove(x);
  await engine.containers.remove(y);
});

test('update: limits merged and checked, the restart policy checked against AutoRemove', async () => {
  const { Id } = await engine.containers.create(sleeper('upd'));
  const r = await engine.containers.update(Id, {
    CpuShares: 512,
    RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
  });
  assert.deepEqual(r, { Warnings: [] });
  const hc = (await inspect(Id)).HostConfig;
  assert.equal(hc.CpuShares, 512);
  assert.deepEqual(hc.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
  await assert.rejects(engine.containers.update(Id, { Memory: 10 }), isError('InvalidArgument', 'invalid_resources'));
  assert.equal((await inspect(Id)).HostConfig.Memory, 0);
  await engine.containers.remove(Id);
  const auto = await engine.containers.create({ ...sleeper('upd-rm'), HostConfig: { AutoRemove: true } });
  await assert.rejects(
    engine.containers.update(auto.Id, { RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } }),
    isError('InvalidArgument', 'invalid_restart'),
  );
  await engine.containers.remove(auto.Id);
});

test('prune: stopped containers passing the label filters; bad filters refused before anything goes', async () => {
  const keep = (
    await engine.containers.create({
      ...sleeper('pr-keep'),
      Config: { Image: 'base', Cmd: ['true'], Labels: { keep: '1' } },
    })
  ).Id;
  const drop = (await engine.containers.create({ ...sleeper('pr-drop'), Config: { Image: 'base', Cmd: ['true'] } })).Id;
  const live = (await engine.containers.create(sleeper('pr-live'))).Id;
  await engine.containers.start(live);
  await assert.rejects(
    engine.containers.prune({ filters: { status: ['exited'] } }),
    isError('InvalidArgument', 'invalid_filter'),
  );
  const r = await engine.containers.prune({ filters: { 'label!': ['keep'] } });
  assert.ok(r.ContainersDeleted.includes(drop));
  assert.ok(!r.ContainersDeleted.includes(keep));
  assert.ok(!r.ContainersDeleted.includes(live));
  assert.equal(typeof r.SpaceReclaimed, 'number');
  const left = (await engine.containers.list({ all: true })).map((c) => c.Id);
  assert.ok(left.includes(keep) && left.includes(live) && !left.includes(drop));
  await engine.containers.remove(live, { force: true });
  await engine.containers.remove(keep);
});
