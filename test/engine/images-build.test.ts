import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { BerthError } from '../../src/core/errors.js';
import { Engine } from '../../src/engine/engine.js';
import type { BuildEvent } from '../../src/engine/image-types.js';
import { hdr, makeTar } from '../helpers/archive.js';
import { mountsUnder, tempRoot } from '../helpers/berth.js';

/**
 * The engine's build, called as a library: progress in the /build stream's
 * shape, a quiet build, a failed one, and an aborted one that leaves
 * nothing (no image, tag, container, layer or mount).
 */
const t = tempRoot('berth-engine-build');
const ctxs = tempRoot('berth-engine-build-ctx');
after(() => [t, ctxs].forEach((r) => r.remove()));

let engine: Engine;
before(async () => {
  engine = await Engine.open({ root: t.root });
  await engine.images.fromHost('base', ['sh', 'sleep', 'echo']);
});

let n = 0;
function context(dockerfile: string): { dir: string } {
  const dir = `${ctxs.root}/c${n++}`;
  fs.mkdirSync(dir);
  fs.writeFileSync(`${dir}/Dockerfile`, dockerfile);
  fs.writeFileSync(`${dir}/file.txt`, 'from the context\n');
  return { dir };
}

async function build(ctx: Parameters<Engine['images']['build']>[0], opts: Parameters<Engine['images']['build']>[1]) {
  const events: BuildEvent[] = [];
  const res = await engine.images.build(ctx, opts, { onEvent: (e) => events.push(e) });
  return { res, events };
}

const state = () => ({
  images: engine.images.list({ all: true }).map((i) => i.Id),
  containers: fs.readdirSync(`${t.root}/containers`).sort(),
  overlay: fs.readdirSync(`${t.root}/overlay2`).sort(),
  mounts: mountsUnder(t.root),
});

test('build: the builder lines, RUN output (with its stream), the ID as aux; tagged', async () => {
  const ctx = context('FROM base\nCOPY file.txt /f\nRUN echo out-line; echo err-line >&2\nLABEL a=b\n');
  const { res, events } = await build(ctx, { t: ['built:1'], labels: { by: 'test' } });
  const lines = events.filter((e) => e.stream !== undefined && !e.output).map((e) => e.stream);
  assert.deepEqual(
    lines.filter((l) => l!.startsWith('Step ')),
    [
      'Step 1/5 : FROM base\n',
      'Step 2/5 : COPY file.txt /f\n',
      'Step 3/5 : RUN echo out-line; echo err-line >&2\n',
      'Step 4/5 : LABEL a=b\n',
      'Step 5/5 : LABEL by=test\n',
    ],
  );
  assert.ok(lines.includes('Successfully tagged built:1\n'));
  const out = (s: 'stdout' | 'stderr') =>
    events
      .filter((e) => e.output === s)
      .map((e) => e.stream)
      .join('');
  assert.equal(out('stdout'), 'out-line\n');
  assert.equal(out('stderr'), 'err-line\n');
  assert.deepEqual(
    events.filter((e) => e.aux),
    [{ aux: { ID: res.Id } }],
  );
  assert.equal(engine.images.inspect('built:1').Id, res.Id);
  assert.deepEqual(engine.images.inspect('built:1').Config?.Labels, { a: 'b', by: 'test' });
  // the rebuild is cached throughout (COPY, RUN, LABEL; the label option's step too), the same image
  const again = await build(ctx, { t: ['built:1'], labels: { by: 'test' } });
  assert.equal(again.events.filter((e) => e.stream === ' ---> Using cache\n').length, 4);
  assert.equal(again.res.Id, res.Id);
  // the base has a child now: deleting it is a hard conflict, forced or not
  const base = engine.images.inspect('base').Id;
  for (const force of [false, true])
    await assert.rejects(
      engine.images.remove(base, { force }),
      (e: unknown) =>
        e instanceof BerthError &&
        e.kind === 'Conflict' &&
        /\(cannot be forced\) - image has dependent child images/.test(e.message),
    );
  assert.equal(engine.images.find('base'), base);
});

test('build: q streams the ID alone; a tar context and a Dockerfile alone', async () => {
  const tar = makeTar([
    [hdr('Dockerfile'), 'FROM base\nCOPY in.txt /in\nRUN echo quiet\n'],
    [hdr('in.txt'), 'x\n'],
  ]);
  const { res, events } = await build(Readable.from([tar]), { q: true });
  assert.deepEqual(events, [{ aux: { ID: res.Id } }, { stream: `${res.Id}\n` }]);
  const alone = await build(null, { dockerfileText: 'FROM base\nENV A=1\n', q: true });
  assert.deepEqual(engine.images.inspect(alone.res.Id).Config?.Env?.includes('A=1'), true);
});

test('build: RUN output split inside a character arrives whole; a relative Dockerfile path is in the context', async () => {
  const ctx = context('');
  fs.mkdirSync(`${ctx.dir}/sub`);
  fs.writeFileSync(
    `${ctx.dir}/sub/Build.df`,
    "FROM base\nRUN i=0; while [ $i -lt 20000 ]; do printf '€€€€€€€€€€'; i=$((i+1)); done\n",
  );
  const { events } = await build(ctx, { dockerfile: 'sub/Build.df' });
  const out = events
    .filter((e) => e.output === 'stdout')
    .map((e) => e.stream)
    .join('');
  assert.equal(out.length, 200000);
  assert.equal(out, '€'.repeat(200000));
});

test('build: a failed step ends with the error message; with q, its output first', async () => {
  for (const q of [false, true]) {
    const events: BuildEvent[] = [];
    await assert.rejects(
      engine.images.build(
        context('FROM base\nRUN echo before-fail; exit 3\n'),
        { q },
        {
          onEvent: (e) => events.push(e),
        },
      ),
      (e: unknown) => e instanceof BerthError && /returned a non-zero code: 3/.test(e.message),
    );
    const last = events[events.length - 1]!;
    assert.match(last.error ?? '', /returned a non-zero code: 3/);
    assert.equal(last.errorDetail?.message, last.error);
    if (q) assert.deepEqual(events.slice(0, -1), [{ stream: 'before-fail\n' }]);
    else assert.ok(events.some((e) => e.output === 'stdout' && e.stream === 'before-fail\n'));
  }
});

test('build: refused options leave the store as it was', async () => {
  const was = state();
  const cases: Array<[Parameters<Engine['images']['build']>[1], RegExp]> = [
    [
      { networkmode: 'mynet' },
      /network "mynet": berth builds with "default" \(the bridge\), "bridge", "none" or "host"/,
    ],
    [{ extrahosts: ['db'] }, /bad format for add-host: "db"/],
    [{ t: [`x@sha256:${'a'.repeat(64)}`] }, /a tag cannot contain a digest/],
    [{ target: 'nope' }, /failed to reach build target nope/],
  ];
  for (const [opts, message] of cases)
    await assert.rejects(engine.images.build(context('FROM base\nENV X=1\n'), opts), message);
  assert.deepEqual(state(), was);
});

test('build: an aborted build leaves no image, tag, container, layer or mount', async () => {
  const ctx = context('FROM base\nRUN echo started; sleep 1000.25\nENV after=1\n');
  const was = state();
  const ac = new AbortController();
  await assert.rejects(
    engine.images.build(
      ctx,
      { t: ['aborted:1'] },
      {
        signal: ac.signal,
        onEvent: (e) => {
          if (e.output === 'stdout' && e.stream?.includes('started')) ac.abort('SIGINT');
        },
      },
    ),
    (e: unknown) => e instanceof BerthError,
  );
  assert.equal(engine.images.find('aborted:1'), undefined);
  assert.deepEqual(state(), was);
});
