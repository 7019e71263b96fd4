import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { alive, berth, berthOk, BERTH, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';

// Detached containers: the monitor outlives the CLI, logs in json-file, records the end;
// stop/kill/wait/restart/exec/logs.
const t = tempRoot('berth-detached');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
const state = (c: string, f = '{{.State.Status}} {{.State.ExitCode}}') => ok(['inspect', '--format', f, c]);
const monitors = new Set<number>();
const monitorOf = (id: string) => {
  const s = JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as {
    MonitorPid: number;
    Pid: number;
  };
  monitors.add(s.MonitorPid);
  return s;
};
const runD = (args: string[]) => {
  const id = ok(['run', '-d', ...args]);
  assert.match(id, /^[0-9a-f]{64}$/);
  monitorOf(id);
  return id;
};

before(() => {
  ok([
    'image',
    'from-host',
    'base',
    'sh',
    'sleep',
    'echo',
    'cat',
    'ps',
    'ls',
    'kill',
    'true',
    'head',
    'grep',
    'id',
    'rm',
    'touch',
    'test',
  ]);
});
after(() => {
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  // a monitor ends by becoming `berth container cleanup` for a moment: give that time to finish
  const end = Date.now() + 10000;
  while ([...monitors].some(alive) && Date.now() < end) spawnSync('sleep', ['0.1']);
  for (const m of monitors)
    if (alive(m)) {
      process.kill(m, 'SIGKILL');
      assert.fail(`monitor ${m} was still running`);
    }
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('run -d returns at once; the container outlives the CLI; its output is a json-file log', async () => {
  const t0 = Date.now();
  const id = runD(['--name', 'web', 'base', 'sh', '-c', 'echo "out <1> & \\"q\\""; echo err >&2; exec sleep 60']);
  assert.ok(Date.now() - t0 < 30000, 'run -d returns without waiting for the container');
  assert.equal(state('web'), 'running 0');
  const { Pid } = monitorOf(id);
  assert.ok(alive(Pid), 'the container process runs after berth exited');
  assert.match(ok(['ps']), /web/);
  const log = `${root}/containers/${id}/${id}-json.log`;
  const lines = await waitFor(() => {
    const l = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    return l.length >= 2 ? l : undefined;
  });
  const recs = lines.map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
  assert.deepEqual(recs.map((r) => [r.stream, r.log]).sort(), [
    ['stderr', 'err\n'],
    ['stdout', 'out <1> & "q"\n'],
  ]);
  assert.ok(
    lines.some((l) => l.includes('\\u003c1\\u003e \\u0026')),
    'escaped as Docker (Go) escapes <, > and &',
  );
  for (const r of recs) assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  const out = berth(root, ['logs', 'web']);
  assert.equal(out.stdout, 'out <1> & "q"\n');
  assert.equal(out.stderr, 'err\n');
  assert.match(berth(root, ['logs', '-t', 'web']).stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z out/);
  assert.equal(state('web', '{{.LogPath}}'), log);
  // times as Docker prints them (Go's RFC3339Nano: no trailing zeros in the fraction)
  const goTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/;
  const times = JSON.parse(
    ok(['inspect', '--format', '{{json .Created}} {{json .State.StartedAt}} {{json .State.FinishedAt}}', 'web'])
      .replace(/ /g, ',')
      .replace(/^/, '[')
      .replace(/$/, ']'),
  ) as string[];
  for (const t of times) assert.match(t, goTime);
  assert.equal(
    Date.parse(times[0]!),
    Date.parse(JSON.parse(fs.readFileSync(`${root}/containers/${id}/config.v2.json`, 'utf8')).Created),
  );
  ok(['rm', '-f', 'web']);
  assert.ok(!alive(Pid));
  assert.equal(berth(root, ['inspect', 'web']).code, 1);
});

test('exec joins the container: same PID namespace and files, its env and cwd, exit codes, -e -w -u', () => {
  runD(['--name', 'ex', '-w', '/tmp', '-e', 'A=1', 'base', 'sh', '-c', 'echo hi > /tmp/f; exec sleep 60']);
  waitForFile('ex', '/tmp/f');
  assert.equal(ok(['exec', 'ex', 'cat', '/proc/1/cmdline']).replace(/\0/g, ' ').trim(), 'sleep 60');
  assert.equal(ok(['exec', 'ex', 'cat', 'f']), 'hi', 'cwd is the container working dir');
  assert.equal(
    ok(['exec', 'ex', 'sh', '-c', 'echo $A-$B-$(pwd)-$(id -u 2>/dev/null || echo x)']).split('-').slice(0, 3).join('-'),
    '1--/tmp',
  );
  assert.equal(ok(['exec', '-e', 'B=2', '-w', '/', 'ex', 'sh', '-c', 'echo $A$B $(pwd)']), '12 /');
  const envFile = `${root}/exec.env`;
  fs.writeFileSync(envFile, '# comment\nC=3\nB=from-file\n');
  assert.equal(
    ok(['exec', '--env-file', envFile, '-e', 'B=flag', 'ex', 'sh', '-c', 'echo $B$C']),
    'flag3',
    '-e wins over --env-file',
  );
  assert.equal(
    ok(['exec', '-u', '1234', 'ex', 'sh', '-c', 'cat /proc/self/status | grep ^Uid']).split(/\s+/)[1],
    '1234',
  );
  ok(['exec', 'ex', 'sh', '-c', 'echo from-exec > /tmp/g']);
  assert.equal(ok(['exec', 'ex', 'cat', '/tmp/g']), 'from-exec');
  assert.equal(berth(root, ['exec', 'ex', 'sh', '-c', 'exit 7']).code, 7);
  const nf = berth(root, ['exec', 'ex', 'no-such-cmd']);
  assert.equal(nf.code, 127);
  assert.match(nf.stderr, /executable file not found/);
  assert.match(ok(['exec', 'ex', 'ps', '-o', 'pid,args']), /^\s*1 sleep 60$/m, 'exec sees the container PID 1');
  ok(['exec', '-d', 'ex', 'sh', '-c', 'sleep 0.2; echo bg > /tmp/bg']);
  waitForFile('ex', '/tmp/bg');
  const stopped = berth(root, ['exec', 'nope', 'true']);
  assert.notEqual(stopped.code, 0);
  ok(['rm', '-f', 'ex']);
});

function waitForFile(c: string, path: string): void {
  const end = Date.now() + 10000;
  while (berth(root, ['exec', c, 'cat', path]).code !== 0) if (Date.now() > end) assert.fail(`${path} never appeared`);
}

test('stop: the stop signal, then SIGKILL after -t; wait prints the exit code; a stopped container can start again', async () => {
  runD(['--name', 'st', 'base', 'sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.1; done']);
  const w = spawn(BERTH, ['--root', root, 'wait', 'st'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let waited = '';
  w.stdout.on('data', (d: Buffer) => {
    waited += d.toString();
  });
  const waitDone = new Promise((r) => w.on('exit', r));
  await new Promise((r) => setTimeout(r, 300));
  ok(['stop', 'st']);
  assert.equal(state('st'), 'exited 3');
  await waitDone;
  assert.equal(waited.trim(), '3');
  // PID 1 without a TERM handler ignores it: killed after the timeout
  runD(['--name', 'st2', '--stop-timeout', '1', 'base', 'sleep', '60']);
  const t0 = Date.now();
  ok(['stop', 'st2']);
  assert.ok(Date.now() - t0 >= 900, 'waited for the stop timeout');
  assert.equal(state('st2'), 'exited 137');
  ok(['start', 'st2']);
  assert.equal(state('st2'), 'running 0');
  ok(['kill', '-s', 'KILL', 'st2']);
  assert.equal(ok(['wait', 'st2']), '137');
  ok(['restart', '-t', '0', 'st2']);
  assert.equal(state('st2'), 'running 0');
  ok(['rm', '-f', 'st', 'st2']);
});

test('restart policies: on-failure:N, always (a stop ends it), no; the restart count', async () => {
  const id = runD(['--restart', 'on-failure:2', 'base', 'sh', '-c', 'echo run; exit 3']);
  await waitFor(() => (state(id) === 'exited 3' ? true : undefined), 15000);
  assert.equal(state(id, '{{.RestartCount}}'), '2');
  assert.equal(ok(['logs', id]).split('\n').length, 3, 'three runs, one log');
  const zero = runD(['--restart', 'on-failure', 'base', 'true']);
  await waitFor(() => (state(zero) === 'exited 0' ? true : undefined));
  assert.equal(state(zero, '{{.RestartCount}}'), '0', 'a clean exit is not a failure');
  const always = runD(['--restart', 'always', 'base', 'sh', '-c', 'sleep 0.2; exit 0']);
  await waitFor(() => (Number(state(always, '{{.RestartCount}}')) >= 2 ? true : undefined), 15000);
  ok(['stop', always]);
  const n = state(always, '{{.RestartCount}}');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(
    state(always, '{{.State.Status}} {{.RestartCount}}'),
    `exited ${n}`,
    'a stopped container is not restarted',
  );
  assert.equal(berth(root, ['run', '-d', '--restart', 'sometimes', 'base', 'true']).code, 125);
  assert.match(berth(root, ['run', '-d', '--restart', 'always', '--rm', 'base', 'true']).stderr, /conflicting options/);
  ok(['rm', '-f', id, zero, always]);
});

test('logs -f follows until the container stops; --tail, --since; rotation with max-size/max-file', async () => {
  const id = runD(['base', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done']);
  const f = berth(root, ['logs', '-f', id]);
  assert.equal(f.code, 0);
  assert.equal(f.stdout, 'line1\nline2\nline3\nline4\nline5\n');
  assert.equal(ok(['logs', '--tail', '2', id]), 'line4\nline5');
  assert.equal(ok(['logs', '--since', '1h', id]).split('\n').length, 5);
  assert.equal(berth(root, ['logs', '--until', '2000-01-01', id]).stdout, '');
  const rot = runD([
    '--log-opt',
    'max-size=1k',
    '--log-opt',
    'max-file=3',
    'base',
    'sh',
    '-c',
    'i=0; while [ $i -lt 200 ]; do echo "line $i padding padding padding"; i=$((i+1)); done',
  ]);
  assert.equal(ok(['wait', rot]), '0');
  const dir = `${root}/containers/${rot}`;
  const files = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(`${rot}-json.log`))
    .sort();
  assert.deepEqual(files, [`${rot}-json.log`, `${rot}-json.log.1`, `${rot}-json.log.2`]);
  for (const n of files) assert.ok(fs.statSync(`${dir}/${n}`).size < 1024 + 200, `${n} stays near max-size`);
  const kept = ok(['logs', rot]).split('\n');
  assert.match(kept[kept.length - 1]!, /^line 199 /, 'the newest lines are kept');
  assert.ok(kept.length < 200, 'the oldest rotated away');
  assert.equal(
    berth(root, ['run', '-d', '--log-opt', 'max-file=2', 'base', 'true']).code,
    125,
    'max-file needs max-size',
  );
  ok(['rm', id, rot]);
});

test('a killed monitor: the container dies with it and shows as exited, its mounts cleaned; --rm containers are removed when they end', async () => {
  const id = runD(['--name', 'victim', 'base', 'sleep', '60']);
  const { MonitorPid, Pid } = monitorOf(id);
  process.kill(MonitorPid, 'SIGKILL');
  await waitFor(() => (!alive(Pid) ? true : undefined));
  assert.match(ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}']), /victim Exited \(137\)/);
  assert.match(state('victim', '{{.State.Error}}'), /monitor was killed/);
  assert.deepEqual(mountsUnder(root), []);
  const rm = ok(['run', '-d', '--rm', 'base', 'sh', '-c', 'exit 0']); // (its state may be gone already: no monitorOf)
  await waitFor(() => (!fs.existsSync(`${root}/containers/${rm}`) ? true : undefined), 10000);
  assert.doesNotMatch(ok(['ps', '-aq', '--no-trunc']), new RegExp(rm));
  ok(['rm', 'victim']);
});

test('two berth processes stopping one container agree; --init reaps as PID 1; rename; container prune', async () => {
  const id = runD(['--name', 'dup', 'base', 'sleep', '60']);
  const stops = [0, 1].map(
    () =>
      new Promise<number>((r) =>
        spawn(BERTH, ['--root', root, 'stop', '-t', '1', 'dup'], { stdio: 'ignore' }).on('exit', (c) => r(c ?? 1)),
      ),
  );
  assert.deepEqual(await Promise.all(stops), [0, 0]);
  assert.equal(state(id), 'exited 137');
  const init = ok(['run', '--rm', '--init', 'base', 'ps', '-o', 'pid,args']);
  assert.match(init, /^\s*1 \S*berth-helper/m, 'PID 1 is the reaper');
  assert.match(init, /^\s*2 ps /m);
  ok(['rename', 'dup', 'dup2']);
  assert.equal(state('dup2', '{{.Name}}'), '/dup2');
  runD(['--name', 'other', 'base', 'sleep', '60']);
  assert.match(berth(root, ['rename', 'dup2', 'other']).stderr, /already in use/);
  assert.match(ok(['container', 'prune', '-f']), new RegExp(id));
  assert.match(ok(['ps', '-a', '--format', '{{.Names}}']), /^other$/m, 'a running container is not pruned');
  ok(['rm', '-f', 'other']);
});

test('a foreground container has its healthcheck too (its monitor runs it), in ps and inspect', async () => {
  const p = spawn(
    BERTH,
    [
      '--root',
      root,
      'run',
      '--rm',
      '--name',
      'fghc',
      '--health-cmd',
      'test -f /tmp/ok',
      '--health-interval',
      '100ms',
      '--health-retries',
      '1',
      'base',
      'sh',
      '-c',
      'touch /tmp/ok; while [ ! -f /tmp/stop ]; do sleep 0.1; done; rm /tmp/ok; exec sleep 60',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  try {
    await waitFor(() =>
      berth(root, ['inspect', '--format', '{{.State.Health.Status}}', 'fghc']).stdout.trim() === 'healthy'
        ? true
        : undefined,
    );
    assert.match(ok(['ps', '--filter', 'name=^fghc$', '--format', '{{.Status}}']), /^Up .* \(healthy\)$/);
    ok(['exec', 'fghc', 'touch', '/tmp/stop']); // the test, not the clock, ends the healthy period
    await waitFor(() => (state('fghc', '{{.State.Health.Status}}') === 'unhealthy' ? true : undefined));
    assert.match(state('fghc', '{{json .State.Health.Log}}'), /"ExitCode":1/);
  } finally {
    // (a SIGTERM forwarded to PID 1 `sleep` would be ignored, as in Docker: kill it)
    berth(root, ['kill', 'fghc']);
    p.kill('SIGTERM');
    await exited;
  }
});

test('healthchecks: --health-* flags run the check in the container; starting, healthy, unhealthy in ps and inspect; timeouts', async () => {
  // failures in the start period do not count: it stays "starting" until the first success
  runD([
    '--name',
    'hc',
    '--health-cmd',
    'test -f /tmp/ok && echo fine',
    '--health-interval',
    '100ms',
    '--health-retries',
    '2',
    '--health-start-period',
    '30s',
    'base',
    'sh',
    '-c',
    'sleep 0.6; touch /tmp/ok; while [ ! -f /tmp/stop ]; do sleep 0.1; done; rm /tmp/ok; sleep 60',
  ]);
  assert.match(ok(['ps', '--format', '{{.Status}}', '--filter', 'name=^hc$']), /\(health: starting\)|\(healthy\)/);
  await waitFor(() => (state('hc', '{{.State.Health.Status}}') === 'healthy' ? true : undefined));
  const h = JSON.parse(ok(['inspect', '--format', '{{json .State.Health}}', 'hc'])) as {
    Status: string;
    FailingStreak: number;
    Log: Array<{ ExitCode: number; Output: string }>;
  };
  assert.equal(h.Log[h.Log.length - 1]!.Output, 'fine\n');
  assert.ok(h.Log.length <= 5, 'the last five results are kept');
  assert.match(
    ok(['ps', '--filter', 'health=healthy', '--format', '{{.Names}} {{.Status}}']),
    /^hc Up .* \(healthy\)$/,
  );
  ok(['exec', 'hc', 'touch', '/tmp/stop']);
  await waitFor(() => (state('hc', '{{.State.Health.Status}}') === 'unhealthy' ? true : undefined));
  assert.ok(Number(state('hc', '{{.State.Health.FailingStreak}}')) >= 2);
  // a check that outlives its timeout counts as a failure with Docker's message
  runD([
    '--name',
    'slow',
    '--health-cmd',
    'sleep 5',
    '--health-timeout',
    '200ms',
    '--health-interval',
    '100ms',
    '--health-retries',
    '1',
    'base',
    'sleep',
    '60',
  ]);
  await waitFor(() => (state('slow', '{{.State.Health.Status}}') === 'unhealthy' ? true : undefined));
  assert.match(ok(['inspect', '--format', '{{json .State.Health}}', 'slow']), /Health check exceeded timeout/);
  assert.match(ok(['run', '-d', '--no-healthcheck', 'base', 'true']), /^[0-9a-f]{64}$/);
  assert.equal(berth(root, ['run', '-d', '--health-interval', '10q', 'base', 'true']).code, 125);
  ok(['rm', '-f', 'hc', 'slow']);
});

test('berth killed at any point of run -d: the next command shows the container running or settled; nothing leaks', async () => {
  for (const ms of [20, 60, 100, 140, 180, 250]) {
    const name = `k${ms}`;
    const p = spawn(BERTH, ['--root', root, 'run', '-d', '--name', name, 'base', 'sleep', '60'], { stdio: 'ignore' });
    const exited = new Promise((r) => p.on('exit', r)); // (it may finish before the kill)
    await new Promise((r) => setTimeout(r, ms));
    p.kill('SIGKILL');
    await exited;
    const r = berth(root, ['ps', '-a', '--format', '{{.Names}} {{.State}}', '--filter', `name=^${name}$`]);
    assert.equal(r.code, 0, r.stderr);
    const st = r.stdout.trim();
    // not created yet, created, running (the monitor made it), or settled as exited: never a half state
    assert.match(st, new RegExp(`^(|${name} (created|running|exited))$`), `after ${ms} ms: ${st}`);
    if (st.endsWith('running')) {
      const id = ok(['inspect', '-f', '{{.Id}}', name]);
      monitorOf(id);
      // the monitor records "running" once it cloned the container, which may still be on its way to exec sleep
      const cmdline = () => berth(root, ['exec', name, 'cat', '/proc/1/cmdline']).stdout.replace(/\0/g, ' ').trim();
      assert.equal(
        await waitFor(() => (cmdline() === 'sleep 60' ? 'sleep 60' : undefined)).catch(() => cmdline()),
        'sleep 60',
      );
    }
    if (st) ok(['rm', '-f', name]);
  }
  const check = berth(root, ['system', 'check']);
  assert.equal(check.code, 0, `system check:\n${check.stdout}${check.stderr}`);
  assert.deepEqual(mountsUnder(root), []);
});

test('attach: output from then on, input to the stdin of a -i container, the detach keys leave it running, the exit code when it ends', async () => {
  const id = runD([
    '-i',
    '--name',
    'att',
    'base',
    'sh',
    '-c',
    'while read l; do [ "$l" = quit ] && exit 5; echo "got $l"; echo "err $l" >&2; done',
  ]);
  const a = spawn(BERTH, ['--root', root, 'attach', 'att'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '',
    err = '';
  a.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  a.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number>((r) => a.on('exit', (c) => r(c ?? -1)));
  await new Promise((r) => setTimeout(r, 400));
  a.stdin.write('one\n');
  await waitFor(() => (out.includes('got one') && err.includes('err one') ? true : undefined));
  a.stdin.write(Buffer.from([16, 17])); // ctrl-p ctrl-q
  assert.equal(await exited, 0, 'detached');
  assert.equal(state('att'), 'running 0', 'still running after the detach');
  const b = spawn(BERTH, ['--root', root, 'attach', 'att'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const bExit = new Promise<number>((r) => b.on('exit', (c) => r(c ?? -1)));
  await new Promise((r) => setTimeout(r, 400));
  b.stdin.write('quit\n');
  assert.equal(await bExit, 5, "attach returns the container's exit code");
  assert.match(ok(['logs', id]), /got one/);
  assert.equal(berth(root, ['attach', 'att']).code, 1, 'a stopped container cannot be attached');
  ok(['rm', 'att']);
});
