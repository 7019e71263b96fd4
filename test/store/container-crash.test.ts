/**
 * Crash safety of container create and rm: `berth create` and `berth rm` are
 * killed (SIGKILL) at every filesystem change they make, one point per run: a
 * child process runs the CLI with node:fs wrapped so that its k-th mkdir,
 * write, rename, symlink, chmod or removal kills it first. After each kill, as
 * the next berth command would, the store is opened (recovering the dead
 * journal) and checked:
 *   - `system check` finds no problem and no leftover;
 *   - the container is wholly there (containers/<id>, layerdb/mounts/<id> naming
 *     its rw and init dirs) or wholly gone (no record, no staging dir, no dir).
 * A create killed between writing layerdb/mounts/<id>.new/mount-id and renaming
 * containers/<id>.new used to leave its overlay2 dirs and l/ links behind (and
 * `berth run -d` killed there made `system check` exit 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { REPO, berthOk } from '../helpers/berth.js';
import { Tracked } from '../helpers/tracked.js';
import { ImageStore } from '../../src/image/store.js';
import { ContainerStore } from '../../src/container/store.js';
import { checkStore } from '../../src/image/check.js';

const tracked = new Tracked();

const CHILD = `
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const killAt = Number(process.env.BERTH_TEST_KILL_AT);
let n = 0;
for (const f of ['mkdirSync', 'writeFileSync', 'renameSync', 'symlinkSync', 'chmodSync', 'rmSync', 'rmdirSync', 'unlinkSync']) {
  const orig = fs[f];
  fs[f] = (...a) => {
    if (++n === killAt) { fs.writeSync(1, 'killed at ' + f + ' ' + a[0] + '\\n'); process.kill(process.pid, 'SIGKILL'); }
    return orig(...a);
  };
}
syncBuiltinESMExports();
const { main } = await import(process.env.BERTH_TEST_MAIN);
process.exitCode = await main(JSON.parse(process.env.BERTH_TEST_ARGV));
`;

/** Run the berth CLI in a child that kills itself at its k-th filesystem change: 'killed at ...', or its exit code if it got through. */
async function berthKilledAt(k: number, argv: string[]): Promise<{ killed: boolean; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BERTH_TEST_KILL_AT: String(k), BERTH_TEST_MAIN: `${REPO}/dist/src/cli/main.js`, BERTH_TEST_ARGV: JSON.stringify(argv) },
  });
  tracked.children.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { out += d; });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  tracked.children.delete(child);
  if (signal !== 'SIGKILL') assert.equal(code, 0, `berth ${argv.join(' ')} (kill point ${k}) exited ${code}: ${out}`);
  return { killed: signal === 'SIGKILL', out: out.trim() };
}

/** What the next berth command sees: recovered store, clean check, the container all there or all gone. */
async function assertSettled(root: string, what: string): Promise<'there' | 'gone'> {
  const store = await ImageStore.open(root);
  const findings = await store.lock(() => checkStore(store, { content: false }));
  assert.deepEqual(findings.map((f) => `${f.severity}: ${f.where}: ${f.message}`), [], `${what}: system check`);
  assert.deepEqual(fs.readdirSync(store.paths.txn), [], `${what}: no journal left`);
  const all = new ContainerStore(store).list();
  const mounts = fs.readdirSync(store.paths.mounts);
  const dirs = fs.readdirSync(store.paths.containers);
  if (all.length === 0) {
    assert.deepEqual([mounts, dirs], [[], []], `${what}: gone, also its layer mount and staging dirs`);
    return 'gone';
  }
  assert.equal(all.length, 1, what);
  const c = all[0]!;
  assert.deepEqual([mounts, dirs], [[c.ID], [c.ID]], `${what}: its layer mount and dir, no staging dir`);
  assert.equal(fs.readFileSync(`${store.paths.mounts}/${c.ID}/mount-id`, 'utf8'), c.MountID, what);
  for (const d of [c.MountID, `${c.MountID}-init`]) assert.ok(fs.existsSync(`${store.paths.cacheDir(d)}/diff`), `${what}: overlay2/${d}`);
  return 'there';
}

test('berth create and rm killed at each filesystem change: the next command finds the container all there or all gone, nothing leaks', { timeout: 10 * 60 * 1000 }, async () => {
  const { root } = tracked.newRoot('berth-ctr-crash');
  berthOk(root, ['image', 'from-host', 'base', 'true']);
  const seen = { create: new Set<string>(), rm: new Set<string>() };
  for (let k = 1; ; k++) {
    const r = await berthKilledAt(k, ['--root', root, 'create', '--name', 'cc', 'base', 'true']);
    const st = await assertSettled(root, `create ${r.out}`);
    seen.create.add(st);
    if (!r.killed) break;
    if (st === 'there') berthOk(root, ['rm', 'cc']);
  }
  for (let k = 1; ; k++) {
    const r = await berthKilledAt(k, ['--root', root, 'rm', 'cc']);
    const st = await assertSettled(root, `rm ${r.out}`);
    seen.rm.add(st);
    if (!r.killed) break;
    if (st === 'gone') berthOk(root, ['create', '--name', 'cc', 'base', 'true']);
  }
  assert.deepEqual([...seen.create].sort(), ['gone', 'there'], 'create was killed both before and after its commit point');
  assert.deepEqual([...seen.rm].sort(), ['gone', 'there'], 'rm was killed both before and after its commit point');
  await assertSettled(root, 'at the end');
});
