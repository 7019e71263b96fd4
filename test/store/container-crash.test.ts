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
import * as fs from 'node:fs';
import { berthOk } from '../helpers/berth.js';
import { berthKilledAt as killedAt } from '../helpers/killed-at.js';
import { Tracked } from '../helpers/tracked.js';
import { ImageStore } from '../../src/image/store.js';
import { ContainerStore } from '../../src/container/store.js';
import { checkStore } from '../../src/image/check.js';

const tracked = new Tracked();

const berthKilledAt = (k: number, argv: string[]) => killedAt(tracked, k, argv);

/** What the next berth command sees: recovered store, clean check, the container all there or all gone. */
async function assertSettled(root: string, what: string): Promise<'there' | 'gone'> {
  const store = await ImageStore.open(root);
  const findings = await store.lock(() => checkStore(store, { content: false }));
  assert.deepEqual(
    findings.map((f) => `${f.severity}: ${f.where}: ${f.message}`),
    [],
    `${what}: system check`,
  );
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
  for (const d of [c.MountID, `${c.MountID}-init`])
    assert.ok(fs.existsSync(`${store.paths.cacheDir(d)}/diff`), `${what}: overlay2/${d}`);
  return 'there';
}

test(
  'berth create and rm killed at each filesystem change: the next command finds the container all there or all gone, nothing leaks',
  { timeout: 10 * 60 * 1000 },
  async () => {
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
    assert.deepEqual(
      [...seen.create].sort(),
      ['gone', 'there'],
      'create was killed both before and after its commit point',
    );
    assert.deepEqual([...seen.rm].sort(), ['gone', 'there'], 'rm was killed both before and after its commit point');
    await assertSettled(root, 'at the end');
  },
);
