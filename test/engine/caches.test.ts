/**
 * What an engine keeps across calls in one process notices what another
 * process (here: a second Engine on the same root, or the CLI) changed
 * meanwhile. The caches: image configs by id (image/imagedb.ts, checked by the
 * file's identity), the builder's images-by-parent index (builder/image-step.ts,
 * checked by the imagedb dirs' identity), the host's user and group names of a
 * build's sources (read once per source tree). repositories.json, container
 * records and layer lists are read per call.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { ImageID } from '../../src/core/digest.js';
import { BerthError } from '../../src/core/errors.js';
import { Engine } from '../../src/engine/engine.js';
import type { BuildEvent } from '../../src/engine/image-types.js';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';

const t = tempRoot('berth-engine-caches');
const ctxs = tempRoot('berth-engine-caches-ctx');
let a: Engine;
let b: Engine;

before(async () => {
  a = await Engine.open({ root: t.root });
  b = await Engine.open({ root: t.root });
  await a.images.fromHost('base', ['sh', 'true']);
});

after(async () => {
  for (const c of await a.containers.list({ all: true })) await a.containers.remove(c.Id, { force: true });
  [t, ctxs].forEach((r) => r.remove());
});

const notFound = (e: unknown) => e instanceof BerthError && e.kind === 'NotFound';

test('image configs: an image another engine removes is gone here too; loaded again, it is back', async () => {
  const id = a.images.inspect('base').Id;
  await b.images.tag('base', 'other', 'one');
  // a reads the config (and keeps it), b removes the image under both names
  assert.equal(a.images.inspect('other:one').Id, id);
  const saved = `${ctxs.root}/base.tar`;
  await b.images.saveToFile(['base'], saved);
  await b.images.remove('other:one');
  await b.images.remove('base');
  assert.throws(() => a.images.inspect('base'), notFound);
  assert.throws(() => a.images.inspect(id), notFound);
  // the config cache itself, which the engine's lookups reach after their existence checks (a create by ID, a build's
  // cache probe): a removed image's config is not served from it
  assert.throws(() => a.store.images.get(id as ImageID), notFound);
  // the CLI (another process) loads it again: a reads it from the new file
  berthOk(t.root, ['load', '-i', saved]);
  assert.equal(a.images.inspect('base').Id, id);
});

test('references and containers: a tag, a rename and a removal by another process are seen at once', async () => {
  berthOk(t.root, ['tag', 'base', 'seen:now']);
  assert.ok(a.images.list().some((i) => i.RepoTags.includes('seen:now')));
  const { Id } = await a.containers.create({ name: 'first', Config: { Image: 'base', Cmd: ['true'] } });
  assert.deepEqual(
    (await b.containers.list({ all: true })).map((c) => c.Names),
    [['/first']],
  );
  berthOk(t.root, ['rename', 'first', 'second']);
  assert.deepEqual(
    (await a.containers.list({ all: true })).map((c) => c.Names),
    [['/second']],
  );
  await b.containers.remove(Id);
  await assert.rejects(a.containers.inspect('second'), notFound);
  assert.equal(berth(t.root, ['inspect', Id]).code, 1);
});

test("the builder's cache index: steps another engine built are cache hits here", async () => {
  const context = (name: string, dockerfile: string) => {
    const dir = `${ctxs.root}/${name}`;
    fs.mkdirSync(dir);
    fs.writeFileSync(`${dir}/Dockerfile`, dockerfile);
    return { dir };
  };
  const cached = async (e: Engine, ctx: { dir: string }) => {
    const events: BuildEvent[] = [];
    await e.images.build(ctx, {}, { onEvent: (ev) => events.push(ev) });
    return events.some((ev) => ev.stream === ' ---> Using cache\n');
  };
  // a builds (its index is made), b builds other steps, a builds b's steps: b's images are found
  assert.equal(await cached(a, context('x', 'FROM base\nLABEL x=1\n')), false);
  assert.equal(await cached(b, context('y', 'FROM base\nLABEL y=2\n')), false);
  assert.equal(await cached(a, context('y-again', 'FROM base\nLABEL y=2\n')), true);
  // and an image b removes is no longer a hit for a
  await b.images.remove(b.images.list().find((i) => i.Labels.y === '2')!.Id, { force: true });
  assert.equal(await cached(a, context('y-third', 'FROM base\nLABEL y=2\n')), false);
});
