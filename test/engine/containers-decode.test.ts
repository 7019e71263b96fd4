/**
 * The CLI's decode of run/create flags into the engine's create request, as
 * the docker CLI's opts.go parse(): pure, no store needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createFlags, createRequestFromFlags } from '../../src/cli/container-flags.js';
import { tempRoot } from '../helpers/berth.js';

function decode(argv: string[], env: Record<string, string> = {}) {
  const { values, positionals } = parseArgs({
    args: argv,
    options: createFlags,
    allowPositionals: true,
    strict: true,
  });
  return createRequestFromFlags(positionals, values as Record<string, string | boolean | string[] | undefined>, env);
}

test('flags become Config and HostConfig fields', () => {
  const r = decode(
    [
      '--name=web',
      '-e',
      'A=1',
      '-e',
      'FROM_ENV',
      '-e',
      'UNSET',
      '-l',
      'k=v',
      '-l',
      'bare',
      '--entrypoint',
      '',
      '-w',
      '/srv',
      '-u',
      '1000',
      '--restart',
      'on-failure:3',
      '--memory',
      '64m',
      '--cpus',
      '1.5',
      '--ulimit',
      'nofile=10:20',
      '--device',
      '/dev/null:/dev/nul:r',
      '--tmpfs',
      '/run:size=1m',
      '--log-opt',
      'max-size=1m',
      '--health-cmd',
      'true',
      '--health-interval',
      '2s',
      '--stop-timeout',
      '4',
      '-v',
      '/a:/b:ro',
      'img',
      'echo',
      'hi',
    ],
    { FROM_ENV: 'x' },
  );
  assert.equal(r.name, 'web');
  assert.deepEqual(r.Config, {
    Image: 'img',
    Cmd: ['echo', 'hi'],
    Entrypoint: [''],
    Env: ['A=1', 'FROM_ENV=x'],
    WorkingDir: '/srv',
    User: '1000',
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Labels: { k: 'v', bare: '' },
    Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 2e9 },
    StopTimeout: 4,
  });
  const h = r.HostConfig!;
  assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(h.Memory, 64 << 20);
  assert.equal(h.NanoCpus, 1.5e9);
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
  assert.deepEqual(h.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/nul', CgroupPermissions: 'r' }]);
  assert.deepEqual(h.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  assert.deepEqual(h.Binds, ['/a:/b:ro']);
  assert.equal(h.NetworkMode, 'default'); // as the docker CLI sends it: the engine's default network (the bridge)
  assert.equal(h.AutoRemove, false);
});

test('--env-file lines, then -e; a bare name from the given environment', () => {
  const tmp = tempRoot('berth-decode');
  try {
    fs.writeFileSync(`${tmp.root}/env`, '# comment\n\nX=1\n  Y\nZ\n');
    const r = decode(['--env-file', `${tmp.root}/env`, '-e', 'X=2', 'img'], { Y: 'y' });
    assert.deepEqual(r.Config.Env, ['X=1', 'Y=y', 'X=2']);
  } finally {
    tmp.remove();
  }
});

test('decode refuses what the flags cannot say', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /requires at least 1 argument/],
    [['--rm', '--restart', 'always', 'img'], /conflicting options: --restart and --rm/],
    [['--restart', 'on-failure:x', 'img'], /only on-failure takes a maximum retry count/],
    [['--no-healthcheck', '--health-cmd', 'true', 'img'], /--no-healthcheck conflicts/],
    [['--health-interval', '10', 'img'], /invalid duration "10"/],
    [['--stop-timeout', 'soon', 'img'], /invalid --stop-timeout "soon"/],
    [['--ulimit', 'nofile', 'img'], /invalid ulimit "nofile"/],
    [['--device', 'sda', 'img'], /invalid device specification: sda/],
    [['--cpu-shares', 'lots', 'img'], /invalid argument "lots" for "--cpu-shares"/],
    [['--memory', 'big', 'img'], /memory/],
    [['--security-opt', 'seccomp=/nonexistent/profile.json', 'img'], /opening seccomp profile/],
  ];
  for (const [argv, re] of cases) assert.throws(() => decode(argv), re, argv.join(' '));
});
