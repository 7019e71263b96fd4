/**
 * EngineOptions.blockingReads (the CLI's): listing, settling, resolving and inspecting read the container store with
 * blocking calls, and answer as the engine that reads through the thread pool does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Engine } from '../../src/engine/engine.js';
import type { ContainerListOptions } from '../../src/engine/container-types.js';
import { BerthError } from '../../src/core/errors.js';
import { berthOk, tempRoot } from '../helpers/berth.js';

const tmp = tempRoot('berth-engine-blocking-reads');
let pooled: Engine;
let blocking: Engine;
const ids: string[] = [];

before(async () => {
  berthOk(tmp.root, ['image', 'from-host', 'base', 'sh', 'true']);
  pooled = await Engine.open({ root: tmp.root });
  blocking = await Engine.open({ root: tmp.root, blockingReads: true });
  assert.equal(pooled.blockingReads, false);
  assert.equal(blocking.blockingReads, true);
  for (let i = 0; i < 6; i++) {
    const { Id } = await pooled.containers.create({
      name: `b${i}`,
      Config: { Image: 'base', Cmd: ['true'], Labels: { n: String(i) } },
      HostConfig: { Binds: [`${tmp.root}:/mnt/root:ro`] },
    });
    ids.push(Id);
  }
});

after(async () => {
  for (const id of ids) await pooled.containers.remove(id, { force: true }).catch(() => undefined);
  tmp.remove();
});

test('list: the same summaries, filters and limits as the thread pool’s reads', async () => {
  const cases: ContainerListOptions[] = [
    { all: true },
    { all: true, limit: 2 },
    { all: true, filters: { label: ['n=3'] } },
    { all: true, filters: { name: ['b[12]'] } },
    {},
  ];
  for (const opts of cases) {
    const a = await pooled.containers.list(opts);
    const b = await blocking.containers.list(opts);
    assert.deepEqual(b, a, JSON.stringify(opts));
  }
  assert.equal((await blocking.containers.list({ all: true })).length, ids.length);
  assert.deepEqual(
    (await blocking.containers.list({ all: true, filters: { label: ['n=3'] } })).map((c) => c.Id),
    [ids[3]],
  );
});

test('a container removed behind the engine’s back is left out; inspect and resolve answer as before', async () => {
  const id = ids[5]!;
  // removed while listed: its hostconfig.json gone, as when another process removes it meanwhile
  const hc = `${tmp.root}/containers/${id}/hostconfig.json`;
  const saved = fs.readFileSync(hc);
  fs.rmSync(hc);
  try {
    const listed = await blocking.containers.list({ all: true });
    assert.ok(!listed.some((c) => c.Id === id), 'left out');
    assert.equal(listed.length, ids.length - 1);
  } finally {
    fs.writeFileSync(hc, saved);
  }
  for (const ref of [ids[2]!, ids[2]!.slice(0, 12), 'b2', '/b2'])
    assert.deepEqual(await blocking.containers.inspect(ref), await pooled.containers.inspect(ref), ref);
  const notFound = (e: unknown) => e instanceof BerthError && e.kind === 'NotFound';
  await assert.rejects(blocking.containers.inspect('no-such-container'), notFound);
  await assert.rejects(pooled.containers.inspect('no-such-container'), notFound);
  assert.deepEqual(await blocking.containers.settle(), []);
});
