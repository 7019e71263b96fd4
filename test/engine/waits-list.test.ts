/**
 * Listing and resolving read every container through the thread pool: a
 * long-lived process keeps serving other work meanwhile, with the same
 * answers as the synchronous reads.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../src/engine/engine.js';
import { BerthError } from '../../src/core/errors.js';
import { berthOk, tempRoot } from '../helpers/berth.js';

const tmp = tempRoot('berth-engine-waits-list');
let engine: Engine;
const ids: string[] = [];

before(async () => {
  berthOk(tmp.root, ['image', 'from-host', 'base', 'sh', 'true']);
  engine = await Engine.open({ root: tmp.root });
  for (let i = 0; i < 24; i++) {
    const { Id } = await engine.containers.create({ name: `l${i}`, Config: { Image: 'base', Cmd: ['true'] } });
    ids.push(Id);
  }
});

after(async () => {
  for (const id of ids) await engine.containers.remove(id, { force: true }).catch(() => undefined);
  tmp.remove();
});

test('list: other work runs while the containers are read, and the answer is that of the sync reads', async () => {
  let ticks = 0;
  let on = true;
  const spin = () => {
    ticks++;
    if (on) setImmediate(spin);
  };
  setImmediate(spin);
  const listed = await engine.containers.list({ all: true });
  on = false;
  assert.equal(listed.length, ids.length);
  // 24 containers, read a few at a time: the loop turns between the rounds
  assert.ok(ticks >= 3, `the event loop turned ${ticks} times while listing`);
  const sync = engine.containerStore.list();
  assert.deepEqual(listed.map((c) => c.Id).sort(), sync.map((c) => c.ID).sort());
  assert.deepEqual(
    listed.map((c) => c.Names[0]).sort(),
    sync.map((c) => c.Name).sort(),
    'the same names as the synchronous list',
  );
});

test('resolve: by id, prefix, name; ambiguous and unknown refs refused as before', async () => {
  const id = ids[3]!;
  const fails = (code: string) => (e: unknown) => e instanceof BerthError && e.code === code;
  // a prefix of 1 hex digit is shared by some of 24 ids, 12 digits by none
  const shared = ids.map((i) => i[0]!).find((d, i, all) => all.indexOf(d) !== i)!;
  for (const [ref, want] of [
    [id, id],
    [id.slice(0, 12), id],
    ['l3', id],
    ['/l3', id],
  ] as const) {
    assert.equal((await engine.containerStore.resolveAsync(ref)).ID, want, ref);
    assert.equal(engine.containerStore.resolve(ref).ID, want, ref);
  }
  for (const [ref, code] of [
    [shared, 'ambiguous_id'],
    ['no-such', 'container_not_found'],
    ['f'.repeat(64), 'container_not_found'],
  ] as const) {
    await assert.rejects(engine.containerStore.resolveAsync(ref), fails(code), ref);
    assert.throws(() => engine.containerStore.resolve(ref), fails(code), ref);
  }
});

test('list: a container removed while listed is left out, not an error', async () => {
  const { Id } = await engine.containers.create({ name: 'gone', Config: { Image: 'base', Cmd: ['true'] } });
  const listing = engine.containers.list({ all: true });
  const removing = engine.containers.remove(Id);
  const [listed] = await Promise.all([listing, removing]);
  assert.ok(listed.length === ids.length || listed.length === ids.length + 1, `${listed.length} listed`);
  assert.equal((await engine.containers.list({ all: true })).length, ids.length);
});
