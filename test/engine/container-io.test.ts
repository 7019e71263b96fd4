import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { alive, berth, berthOk, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';
import { hdr, makeTar } from '../helpers/archive.js';
import { TarParser } from '../../src/archive/tar-parser.js';
import { Engine } from '../../src/engine/index.js';
import type { LogEntry } from '../../src/engine/container-io-streams.js';
import { goFileMode } from '../../src/engine/container-io-archive.js';
import { expandEnv } from '../../src/cli/commands/exec.js';

// The engine's stream and file operations (exec, logs, top, stats, changes, export, archives, commit),
// called directly on real containers in a temporary data root.
const t = tempRoot('berth-engine-io');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
let engine: Engine;
const monitors = new Set<number>();
const runD = (args: string[]) => {
  const id = ok(['run', '-d', ...args]);
  const s = JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number };
  monitors.add(s.MonitorPid);
  return id;
};
const PROGRAMS = ['sh', 'true', 'sleep', 'echo', 'cat', 'id', 'rm', 'mkdir', 'touch', 'ln', 'ls', 'pwd'];

before(async () => {
  ok(['image', 'from-host', 'base', ...PROGRAMS]);
  engine = await Engine.open({ root });
});
after(() => {
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  const end = Date.now() + 10000;
  while ([...monitors].some(alive) && Date.now() < end) spawnSync('sleep', ['0.1']);
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function bytesOf(s: Readable): Promise<Buffer> {
  return Buffer.concat(await collect<Buffer>(s));
}

/** name -> [type, body] of every member of a tar. */
function tarMembers(tar: Buffer): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  let name = '';
  let type = '';
  let body: Buffer[] = [];
  const p = new TarParser({
    raw: () => undefined,
    entry: (h) => {
      name = h.name.replace(/\/$/, '');
      type = h.type === 'symlink' ? `symlink:${h.linkname}` : h.type;
      body = [];
    },
    body: (b) => body.push(Buffer.from(b)),
    entryEnd: () => out.set(name, [type, Buffer.concat(body).toString()]),
  });
  p.write(tar);
  p.end();
  return out;
}

/** Run an exec to its end; its output through a file (the helper takes descriptors). */
async function execRun(id: string, cmd: string[], extra: Record<string, unknown> = {}) {
  const { Id } = await engine.containers.execCreate(id, { Cmd: cmd, AttachStdout: true, ...extra });
  const file = `${root}/exec-out-${Id}`;
  const fd = fs.openSync(file, 'w+');
  try {
    const code = await engine.containers.execStart(Id, {}, { stdio: ['ignore', fd, fd] });
    return { code, out: fs.readFileSync(file, 'utf8'), inspect: engine.containers.execInspect(Id) };
  } finally {
    fs.closeSync(fd);
  }
}

test('exec: create, start, inspect; exit codes, env, user, workdir', async () => {
  const c = runD(['-e', 'KEEP=1', '-e', 'DROP=2', '-w', '/etc', 'base', 'sleep', '1000']);
  const cases: Array<[string, string[], Record<string, unknown>, number, string]> = [
    ['exit code', ['sh', '-c', 'exit 3'], {}, 3, ''],
    ['container env and workdir', ['sh', '-c', 'echo $KEEP $DROP; pwd'], {}, 0, '1 2\n/etc\n'],
    [
      'Env adds, replaces, bare name unsets',
      ['sh', '-c', 'echo $A $KEEP ${DROP-unset}'],
      { Env: ['A=b', 'KEEP=k', 'DROP'] },
      0,
      'b k unset\n',
    ],
    ['WorkingDir', ['pwd'], { WorkingDir: '/tmp' }, 0, '/tmp\n'],
    ['User uid:gid', ['id', '-u'], { User: '1234:5678' }, 0, '1234\n'],
    ['User group', ['id', '-g'], { User: '1234:5678' }, 0, '5678\n'],
    ['root by default', ['id', '-u'], {}, 0, '0\n'],
  ];
  for (const [what, cmd, extra, code, out] of cases) {
    const r = await execRun(c, cmd, extra);
    assert.equal(r.code, code, what);
    assert.equal(r.out, out, what);
    assert.equal(r.inspect.ExitCode, code, what);
    assert.equal(r.inspect.Running, false, what);
    assert.equal(r.inspect.ContainerID, c, what);
    assert.deepEqual(r.inspect.ProcessConfig.arguments, cmd.slice(1), what);
    assert.equal(r.inspect.ProcessConfig.user, (extra.User as string | undefined) ?? '', what);
  }
  // a missing program: 127 as Docker's, recorded too
  const { Id: missing } = await engine.containers.execCreate(c, { Cmd: ['/no/such'] });
  await assert.rejects(engine.containers.execStart(missing), (e: Error & { exitCode?: number }) => e.exitCode === 127);
  assert.equal(engine.containers.execInspect(missing).ExitCode, 127);
  // once only; unknown ids; an empty command
  await assert.rejects(engine.containers.execStart(missing), { kind: 'Conflict', code: 'exec_ran' });
  assert.throws(() => engine.containers.execInspect('nope'), { kind: 'NotFound', code: 'exec_not_found' });
  await assert.rejects(engine.containers.execStart('nope'), { kind: 'NotFound' });
  await assert.rejects(engine.containers.execCreate(c, { Cmd: [] }), { kind: 'InvalidArgument' });
  await assert.rejects(engine.containers.execCreate('no-such-ctr', { Cmd: ['true'] }), { kind: 'NotFound' });

  // detached: starts, runs, and its end is recorded
  const { Id: bg } = await engine.containers.execCreate(c, { Cmd: ['sh', '-c', 'sleep 0.5; exit 5'], Detach: true });
  assert.equal(await engine.containers.execStart(bg, { Detach: true }), 0);
  assert.equal(engine.containers.execInspect(bg).Running, true);
  await waitFor(() => (engine.containers.execInspect(bg).Pid > 0 ? true : undefined));
  await waitFor(() => (engine.containers.execInspect(bg).Running ? undefined : true));
  assert.equal(engine.containers.execInspect(bg).ExitCode, 5);

  ok(['stop', '-t', '0', c]);
  await assert.rejects(engine.containers.execCreate(c, { Cmd: ['true'] }), {
    kind: 'Conflict',
    message: /is not running/,
  });
});

test('logs: streams, tail, since, until, timestamps, follow', async () => {
  const c = runD(['base', 'sh', '-c', 'echo one; echo err >&2; sleep 1.2; echo two']);
  ok(['wait', c]);
  const all = await collect(engine.containers.logs(c));
  assert.deepEqual(
    all.map((e) => [e.stream, e.line]),
    [
      ['stdout', 'one\n'],
      ['stderr', 'err\n'],
      ['stdout', 'two\n'],
    ],
  );
  const secs = (e: LogEntry) => Date.parse(e.time) / 1000;
  const lines = async (o: Parameters<typeof engine.containers.logs>[1]) =>
    (await collect(engine.containers.logs(c, o))).map((e) => e.line);
  const cases: Array<[string, Parameters<typeof engine.containers.logs>[1], string[]]> = [
    ['stdout only', { stderr: false }, ['one\n', 'two\n']],
    ['stderr only', { stdout: false }, ['err\n']],
    ['tail 1', { tail: 1 }, ['two\n']],
    ['tail 0', { tail: 0 }, []],
    ['tail all', { tail: 'all' }, ['one\n', 'err\n', 'two\n']],
    ['since the last line', { since: secs(all[2]!) - 0.001 }, ['two\n']],
    ['until the first lines', { until: secs(all[1]!) + 0.001 }, ['one\n', 'err\n']],
    ['since and tail', { since: secs(all[0]!) - 0.001, tail: 2 }, ['err\n', 'two\n']],
  ];
  for (const [what, o, want] of cases) assert.deepEqual(await lines(o), want, what);
  const stamped = await lines({ timestamps: true, tail: 1 });
  assert.match(stamped[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z two\n$/);
  for (const bad of [1.5, -0.5, NaN])
    await assert.rejects(collect(engine.containers.logs(c, { tail: bad })), { kind: 'InvalidArgument' });
  await assert.rejects(collect(engine.containers.logs(c, { since: NaN })), { kind: 'InvalidArgument' });
  await assert.rejects(collect(engine.containers.logs('no-such-ctr')), { kind: 'NotFound' });

  // follow: what comes later, until the container stops
  const f = runD(['base', 'sh', '-c', 'echo x; sleep 0.5; echo y']);
  const followed = await collect(engine.containers.logs(f, { follow: true }));
  assert.deepEqual(
    followed.map((e) => e.line),
    ['x\n', 'y\n'],
  );
  // an aborted follow ends
  const g = runD(['base', 'sh', '-c', 'echo z; sleep 1000']);
  const ac = new AbortController();
  const seen: string[] = [];
  for await (const e of engine.containers.logs(g, { follow: true, signal: ac.signal })) {
    seen.push(e.line);
    ac.abort();
  }
  assert.deepEqual(seen, ['z\n']);
  ok(['rm', '-f', g]);
});

test('attach: output and input as streams, the detach keys, the end of the run', async () => {
  const c = runD(['-i', 'base', 'cat']);
  const a = await engine.containers.attach(c, { stream: true, stdin: true, detachKeys: 'ctrl-x' });
  assert.equal(a.tty, false);
  const out: Buffer[] = [];
  a.stdout.on('data', (d: Buffer) => out.push(d));
  a.stdin!.write('hello\n');
  await waitFor(() => (Buffer.concat(out).toString() === 'hello\n' ? true : undefined));
  a.stdin!.write(Buffer.from([0x18])); // ctrl-x
  assert.equal(await a.done, 'detached');
  assert.equal(ok(['inspect', '--format', '{{.State.Status}}', c]), 'running', 'detaching leaves it running');
  // without stdin there is no way in; the run's end ends the attachment
  const b = await engine.containers.attach(c);
  assert.equal(b.stdin, undefined);
  ok(['kill', c]);
  assert.equal(await b.done, 'ended');
  ok(['wait', c]);
  await assert.rejects(engine.containers.attach(c), { kind: 'Conflict', message: /start it first/ });
  await assert.rejects(engine.containers.attach(c, { detachKeys: 'ctrl-' }), { kind: 'InvalidArgument' });
  await assert.rejects(engine.containers.attach('no-such-ctr'), { kind: 'NotFound' });
});

test('exec CLI: -e VAR takes the value of the caller, unset it stays bare', () => {
  const cases: Array<[string[], Record<string, string>, string[]]> = [
    [['A=1', 'B'], { B: 'two' }, ['A=1', 'B=two']],
    [['C'], {}, ['C']],
    [['D='], { D: 'x' }, ['D=']],
    [['E=a=b'], {}, ['E=a=b']],
  ];
  for (const [given, env, want] of cases) assert.deepEqual(expandEnv(given, env), want, given.join(' '));
});

test('top and stats: the container processes and usage in Docker shapes', async () => {
  const c = runD(['--network', 'none', 'base', 'sh', '-c', 'sleep 1000 & sleep 1001']);
  const t1 = await engine.containers.top(c);
  assert.ok(t1.Titles.includes('PID') && t1.Titles.includes('CMD'), t1.Titles.join(' '));
  const cmds = t1.Processes.map((p) => p[p.length - 1]);
  assert.ok(cmds.includes('sleep 1000') && cmds.includes('sleep 1001'), cmds.join(','));
  assert.equal(t1.Processes.length, 3, 'sh and two sleeps, nothing of the host');
  const t2 = await engine.containers.top(c, '-eo pid,comm');
  assert.deepEqual(t2.Titles, ['PID', 'COMMAND']);
  assert.equal(t2.Processes.length, 3);

  const s = await engine.containers.stats(c, { oneShot: true });
  for (const k of ['read', 'preread', 'cpu_stats', 'precpu_stats', 'memory_stats', 'pids_stats', 'blkio_stats'])
    assert.ok(k in s, k);
  assert.equal(s.id, c);
  assert.match(s.name, /^\/\w/);
  assert.notEqual(s.read, '0001-01-01T00:00:00Z');
  assert.equal(s.pids_stats.current, 3);
  assert.ok(s.memory_stats.usage! > 0 && s.memory_stats.limit! > 0);
  assert.ok(s.cpu_stats.system_cpu_usage! > 0 && s.cpu_stats.online_cpus! > 0);
  assert.equal(s.precpu_stats.cpu_usage.total_usage, 0, 'one-shot: no previous reading');
  assert.equal(s.networks, undefined, '--network none: only lo, which Docker does not count');
  const two = await engine.containers.stats(c, { intervalMs: 100 });
  assert.ok(two.precpu_stats.system_cpu_usage! > 0 && two.preread !== '0001-01-01T00:00:00Z');
  const frames: Array<Awaited<ReturnType<typeof engine.containers.stats>>> = [];
  for await (const f of engine.containers.statsStream(c, { intervalMs: 50 })) if (frames.push(f) === 2) break;
  assert.deepEqual(frames[1]!.precpu_stats, frames[0]!.cpu_stats);
  ok(['rm', '-f', c]);
  await assert.rejects(engine.containers.top(c), { kind: 'NotFound' });
  const h = runD(['--network', 'host', 'base', 'sleep', '1000']);
  assert.equal((await engine.containers.stats(h, { oneShot: true })).networks, undefined, "the host's interfaces");
  ok(['rm', '-f', h]);
  const stopped = ok(['create', 'base', 'true']);
  const z = await engine.containers.stats(stopped, { oneShot: true });
  assert.equal(z.read, '0001-01-01T00:00:00Z');
  await assert.rejects(engine.containers.top(stopped), { kind: 'Conflict' });
});

test('changes and export: the rw layer, and the merged rootfs as a tar', async () => {
  const c = runD(['base', 'sh', '-c', 'mkdir /d && echo x > /d/f && echo more >> /etc/passwd && rm /etc/group']);
  ok(['wait', c]);
  // its monitor's clean-up unmounts the union a moment after the end
  await waitFor(() => (mountsUnder(root).length ? undefined : true));
  const ch = await engine.containers.changes(c);
  for (const want of [
    { Path: '/d', Kind: 1 },
    { Path: '/d/f', Kind: 1 },
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/passwd', Kind: 0 },
    { Path: '/etc/group', Kind: 2 },
  ])
    assert.ok(
      ch.some((x) => x.Path === want.Path && x.Kind === want.Kind),
      `${JSON.stringify(want)} in ${JSON.stringify(ch)}`,
    );
  const tar = tarMembers(await bytesOf(await engine.containers.export(c)));
  assert.deepEqual(tar.get('d/f'), ['file', 'x\n']);
  assert.match(tar.get('etc/passwd')![1], /more\n$/);
  assert.equal(tar.has('etc/group'), false);
  assert.deepEqual(mountsUnder(root), [], 'the union mounted for the export is gone');
  // a destroyed export unmounts too
  const s = await engine.containers.export(c);
  s.destroy();
  assert.deepEqual(mountsUnder(root), []);
});

test('getArchive / putArchive: round trip, stat, and nothing reaches the host', async () => {
  const host = fs.mkdtempSync(`${root}/../host-canary-`);
  fs.writeFileSync(`${host}/secret`, 'host secret\n');
  const a = runD(['base', 'sh', '-c', `mkdir -p /d/sub && echo x > /d/sub/f && ln -s ${host} /esc && ln -s sub /d/l`]);
  ok(['wait', a]);
  const b = ok(['create', 'base', 'true']);

  const { stat, stream } = await engine.containers.getArchive(a, '/d');
  assert.equal(stat.name, 'd');
  assert.equal(stat.mode, 2 ** 31 + 0o755);
  assert.ok(!Number.isNaN(Date.parse(stat.mtime)));
  const tar = await bytesOf(stream);
  assert.deepEqual(tarMembers(tar).get('d/sub/f'), ['file', 'x\n']);
  await engine.containers.putArchive(b, '/tmp', [tar]);
  const back = await engine.containers.getArchive(b, '/tmp/d/sub/f');
  assert.deepEqual({ ...back.stat, mtime: '' }, { name: 'f', size: 2, mode: 0o644, mtime: '', linkTarget: '' });
  assert.deepEqual(tarMembers(await bytesOf(back.stream)).get('f'), ['file', 'x\n']);
  const link = await engine.containers.getArchive(b, '/tmp/d/l');
  assert.equal(link.stat.linkTarget, '/tmp/d/sub');
  assert.equal(link.stat.mode, 2 ** 27 + 0o777);
  link.stream.destroy();

  // the host canary behind a symlink in the container is never read or written
  await assert.rejects(engine.containers.getArchive(a, '/esc/secret'), { kind: 'NotFound' });
  const followed = await engine.containers.getArchive(a, '/esc', { followLink: true }).catch((e: Error) => e);
  assert.ok(followed instanceof Error, 'the link resolves inside the container, where the target does not exist');
  await assert.rejects(engine.containers.putArchive(a, '/esc', [makeTar([[hdr('pwned'), 'x']])]));
  const hostile: Array<[string, Buffer, RegExp]> = [
    ['../ name', makeTar([[hdr(`../../../../../../..${host}/pwned`), 'pwned\n']]), /is outside of/],
    [
      'hardlink to ../',
      makeTar([[hdr('h', { type: 'link', linkname: `../../../../../..${host}/secret` })]]),
      /outside/,
    ],
  ];
  for (const [what, bytes, re] of hostile)
    await assert.rejects(engine.containers.putArchive(b, '/tmp', [bytes]), { message: re }, what);
  // a symlink to the host path, then a file through it: written inside the container
  await engine.containers
    .putArchive(b, '/tmp', [
      makeTar([[hdr('out', { type: 'symlink', linkname: host })], [hdr('out/through'), 'through\n']]),
    ])
    .catch(() => undefined);
  assert.deepEqual(fs.readdirSync(host), ['secret'], 'nothing was written on the host');
  assert.equal(fs.readFileSync(`${host}/secret`, 'utf8'), 'host secret\n');
  await assert.rejects(engine.containers.putArchive(b, '/tmp/d/sub/f', [makeTar([[hdr('x'), 'x']])]), {
    kind: 'InvalidArgument',
  });
  await assert.rejects(engine.containers.getArchive(b, '/nope'), { kind: 'NotFound' });
  assert.deepEqual(mountsUnder(root), []);
  // a reader that stops early: the copy ends, and the rootfs mounted for it goes
  const early = await engine.containers.getArchive(b, '/');
  await new Promise((res) => early.stream.once('data', res));
  early.stream.pause();
  early.stream.destroy();
  await waitFor(() => (mountsUnder(root).length ? undefined : true));
  assert.equal(ok(['start', b]), b, 'its run lock was let go');
  fs.rmSync(host, { recursive: true });
});

test('goFileMode: tar types and special bits as Go numbers them', () => {
  const cases: Array<[Parameters<typeof goFileMode>[0], number]> = [
    [{ type: 'file', mode: 0o644 }, 0o644],
    [{ type: 'dir', mode: 0o1777 }, 2 ** 31 + 2 ** 20 + 0o777],
    [{ type: 'file', mode: 0o4755 }, 2 ** 23 + 0o755],
    [{ type: 'file', mode: 0o2755 }, 2 ** 22 + 0o755],
    [{ type: 'symlink', mode: 0o777 }, 2 ** 27 + 0o777],
    [{ type: 'char', mode: 0o666 }, 2 ** 26 + 2 ** 21 + 0o666],
    [{ type: 'block', mode: 0o660 }, 2 ** 26 + 0o660],
    [{ type: 'fifo', mode: 0o600 }, 2 ** 25 + 0o600],
  ];
  for (const [h, want] of cases) assert.equal(goFileMode(h), want, `${h.type} ${h.mode.toString(8)}`);
});

test('commit: changes, config, tags; a running container goes on running', async () => {
  const c = runD(['base', 'sh', '-c', 'mkdir /d && echo committed > /d/f && sleep 1000']);
  await waitFor(() => (ok(['exec', c, 'sh', '-c', 'cat /d/f 2>/dev/null || true']) ? true : undefined));
  const { Id } = await engine.containers.commit(c, {
    repo: 'committed',
    tag: 'v1',
    comment: 'a message',
    author: 'someone',
    changes: ['CMD ["cat", "/d/f"]', 'ENV K=v'],
    config: { WorkingDir: '/d', Labels: { a: 'b' } },
  });
  assert.match(Id, /^sha256:[0-9a-f]{64}$/);
  const img = JSON.parse(ok(['image', 'inspect', 'committed:v1']))[0] as {
    Id: string;
    Comment: string;
    Author: string;
    Config: { Cmd: string[]; Env: string[]; WorkingDir: string; Labels: Record<string, string> };
  };
  assert.equal(img.Id, Id);
  assert.equal(img.Comment, 'a message');
  assert.equal(img.Author, 'someone');
  assert.deepEqual(img.Config.Cmd, ['cat', '/d/f']);
  assert.ok(img.Config.Env.includes('K=v'));
  assert.equal(img.Config.WorkingDir, '/d');
  assert.deepEqual(img.Config.Labels, { a: 'b' });
  assert.equal(ok(['run', '--rm', 'committed:v1']), 'committed');
  assert.equal(ok(['inspect', '--format', '{{.State.Status}}', c]), 'running', 'paused for the commit only');
  // without a repository: an untagged image
  const { Id: bare } = await engine.containers.commit(c, { pause: false });
  assert.match(bare, /^sha256:/);
  await assert.rejects(engine.containers.commit(c, { tag: 'v2' }), { kind: 'InvalidArgument' });
  await assert.rejects(engine.containers.commit(c, { repo: 'Bad Name' }), { kind: 'InvalidArgument' });
  ok(['rm', '-f', c]);
});
