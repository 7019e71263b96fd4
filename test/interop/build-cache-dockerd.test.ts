/**
 * berth's build cache is Docker's: images with `parent` metadata and the step's
 * container_config. dockerd 20.10 started on a store where berth built an image
 * rebuilds the same Dockerfile (legacy builder, the 20.10 CLI) entirely from
 * berth's cache, to the same image ID, and runs it; berth then still rebuilds
 * from the cache, now also seeing what dockerd added.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, mountsUnder } from '../helpers/berth.js';
import { Scope, run, since, startDockerd, type Dockerd } from '../helpers/peers.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`build-cache-dockerd.test: ${since(T0)} in all\n`);
});

const DOCKER_CLI = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
let br: string;
let ctx: string;
let d: Dockerd;
let built: string;

before(
  () => {
    br = scope.tempDir('bcache-berth');
    ctx = scope.tempDir('bcache-ctx');
    fs.writeFileSync(join(ctx, 'f.txt'), 'from the context\n');
    fs.mkdirSync(join(ctx, 'd'));
    fs.writeFileSync(join(ctx, 'd', 'g.txt'), 'g\n');
    fs.writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        'FROM base',
        'ARG V=1',
        'ENV A=1',
        'WORKDIR /app',
        'COPY f.txt d ./',
        'RUN echo "built with $V" > /app/out',
        'EXPOSE 80',
        'LABEL l=v',
        'CMD ["cat", "/app/out", "/app/f.txt"]',
      ].join('\n'),
    );
    berthOk(br, ['image', 'from-host', 'base', 'sh', 'cat', 'echo']);
    const r = berthOk(br, ['build', '-t', 'app', ctx]);
    built = /Successfully built ([0-9a-f]{12})/.exec(r)![1]!;
    d = startDockerd(scope, 'bcache', br);
  },
  { timeout: 300_000 },
);

test("dockerd rebuilds a berth-built Dockerfile from berth's cache, to the same image", () => {
  const r = run(DOCKER_CLI, ['build', '-t', 'app:docker', ctx], { env: { DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/ ---> Using cache/g) ?? []).length, 8, r.stdout);
  assert.doesNotMatch(r.stdout, /Running in/);
  assert.match(r.stdout, new RegExp(`Successfully built ${built}`));
  const out = run(DOCKER_CLI, ['run', '--rm', 'app:docker'], { env: { DOCKER_HOST: d.host } });
  assert.equal(out.stdout, 'built with 1\nfrom the context\n', out.stderr);
});

test('after dockerd, berth rebuilds from the same cache; a changed build arg misses only from the RUN on', () => {
  d.stop();
  for (const m of mountsUnder(br)) assert.fail(`dockerd left ${m} mounted`);
  const again = berth(br, ['build', '-t', 'app', ctx]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stdout.match(/ ---> Using cache/g) ?? []).length, 8);
  assert.match(again.stdout, new RegExp(`Successfully built ${built}`));
  const changed = berth(br, ['build', '--build-arg', 'V=2', '-t', 'app2', ctx]);
  assert.equal(changed.code, 0, changed.stderr);
  assert.equal((changed.stdout.match(/ ---> Using cache/g) ?? []).length, 4, changed.stdout);
});
