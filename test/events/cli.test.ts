import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { alive, berth, berthOk, BERTH, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';

// berth events across processes: what one command did, another sees; the monitor writes a detached container's
// die, restart and health events with no berth process.
const t = tempRoot('berth-events');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();
const monitors = new Set<number>();

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  status?: string;
  id?: string;
  from?: string;
  timeNano: number;
}
/** The stored events since `since` up to now (a second process: the CLI). */
const events = (since: string, ...filters: string[]): Ev[] =>
  ok(['events', '--since', since, '--until', '0s', '--format', 'json', ...filters.flatMap((f) => ['--filter', f])])
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ev);
const actions = (evs: Ev[], id?: string) => evs.filter((e) => !id || e.Actor.ID === id).map((e) => e.Action);
const monitorOf = (id: string) => {
  const s = JSON.parse(fs.readFileSync(`${root}/containers/${id}/state.json`, 'utf8')) as { MonitorPid: number };
  monitors.add(s.MonitorPid);
  return s.MonitorPid;
};

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
});
after(() => {
  for (const c of berth(root, ['ps', '-aq']).stdout.split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  const end = Date.now() + 10000;
  while ([...monitors].some(alive) && Date.now() < end) spawnSync('sleep', ['0.1']);
  for (const m of monitors) if (alive(m)) process.kill(m, 'SIGKILL');
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

test('run -d, stop, rm: create, start, kill, die, stop, destroy seen by another process, in order', () => {
  const since = String(Date.now() / 1000);
  const id = ok(['run', '-d', '--name', 'ev1', '--label', 'tier=web', 'base', 'sleep', '100']);
  monitorOf(id);
  ok(['stop', '-t', '1', 'ev1']);
  ok(['rm', 'ev1']);
  const evs = events(since, `container=${id}`);
  assert.deepEqual(actions(evs), ['create', 'start', 'kill', 'die', 'stop', 'destroy']);
  assert.equal(evs.find((e) => e.Action === 'kill')!.Actor.Attributes.signal, '15');
  const die = evs.find((e) => e.Action === 'die')!;
  assert.deepEqual(die.Actor.Attributes, {
    execDuration: die.Actor.Attributes.execDuration!,
    exitCode: '137',
    image: 'base',
    name: 'ev1',
    tier: 'web',
  });
  assert.deepEqual([die.status, die.id, die.from, die.Type], ['die', id, 'base', 'container']);
  // text format, as docker's
  const text = ok([
    'events',
    '--since',
    since,
    '--until',
    '0s',
    '--filter',
    'event=destroy',
    '--filter',
    `container=ev1`,
  ]);
  assert.match(
    text,
    new RegExp(
      `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z container destroy ${id} \\(image=base, name=ev1, tier=web\\)$`,
    ),
  );
});

test('--since/--until bound the range; --filter type/event/label/volume; bad values are refused', () => {
  const t0 = Date.now() / 1000;
  ok(['volume', 'create', 'evvol']);
  spawnSync('sleep', ['1.2']);
  const t1 = Date.now() / 1000;
  ok(['volume', 'rm', 'evvol']);
  ok(['run', '--rm', '--label', 'k=v', 'base', 'true']);
  const all = events(String(t0));
  assert.deepEqual(actions(all.filter((e) => e.Type === 'volume')), ['create', 'destroy']);
  const upTo = ok(['events', '--since', String(t0), '--until', String(t1), '--format', '{{.Type}} {{.Action}}']);
  assert.equal(upTo, 'volume create');
  assert.deepEqual(actions(events(String(t1), 'type=volume')), ['destroy']);
  assert.deepEqual(actions(events(String(t0), 'volume=evvol', 'event=create')), ['create']);
  assert.deepEqual(actions(events(String(t0), 'label=k=v')), ['create', 'attach', 'start', 'die', 'destroy']);
  assert.deepEqual(events(String(t0), 'label=k=other'), []);
  const bad = berth(root, ['events', '--since', 'yesterday', '--until', '0s']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid value for --since: "yesterday"/);
  const badF = berth(root, ['events', '--until', '0s', '--filter', 'color=red']);
  assert.match(badF.stderr, /invalid filter 'color'/);
});

test('events without --until follows: it sees what another process does, until interrupted', async () => {
  const p = spawn(BERTH, [
    '--root',
    root,
    'events',
    '--filter',
    'type=network',
    '--format',
    '{{.Action}} {{.Actor.Attributes.name}}',
  ]);
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  try {
    await new Promise((r) => setTimeout(r, 600)); // its watch is set
    ok(['network', 'create', 'evnet']);
    ok(['network', 'rm', 'evnet']);
    await waitFor(() => (out.split('\n').length > 2 ? true : undefined), 10000);
    assert.equal(out, 'create evnet\ndestroy evnet\n');
  } finally {
    p.kill('SIGINT');
  }
  assert.equal(await exited, 0);
});

test('the monitor writes die for a detached container killed from outside, and die+start for a restart', async () => {
  const since = String(Date.now() / 1000);
  const id = ok(['run', '-d', 'base', 'sleep', '100']);
  monitorOf(id);
  const pid = Number(ok(['inspect', '--format', '{{.State.Pid}}', id]));
  process.kill(pid, 'SIGKILL'); // no berth process runs now: only its monitor sees it end
  const die = await waitFor(() => events(since, `container=${id}`, 'event=die')[0], 10000);
  assert.equal(die.Actor.Attributes.exitCode, '137');
  const r = ok(['run', '-d', '--restart', 'on-failure:1', 'base', 'sh', '-c', 'exit 3']);
  monitorOf(r);
  await waitFor(() => (events(since, `container=${r}`, 'event=die').length === 2 ? true : undefined), 15000);
  assert.deepEqual(actions(events(since, `container=${r}`)), ['create', 'start', 'die', 'start', 'die']);
  assert.deepEqual(
    events(since, `container=${r}`, 'event=die').map((e) => e.Actor.Attributes.exitCode),
    ['3', '3'],
  );
});

test('the monitor writes health_status events', async () => {
  const since = String(Date.now() / 1000);
  const id = ok(['run', '-d', '--health-cmd', 'true', '--health-interval', '1s', 'base', 'sleep', '100']);
  monitorOf(id);
  const h = await waitFor(() => events(since, `container=${id}`, 'event=health_status')[0], 15000);
  assert.equal(h.Action, 'health_status: healthy');
  ok(['rm', '-f', id]);
});
