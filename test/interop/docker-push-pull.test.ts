/**
 * docker push (a private dockerd 20.10) to Debian's docker-registry on 127.0.0.1 -> berth pull:
 * the image berth gets is the image dockerd has: image ID, diff_ids, chainIDs (layerdb), the
 * RepoDigest docker push reported; the pulled image runs and its files are those the build made.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk } from '../helpers/berth.js';
import {
  MULTI_FILES,
  Scope,
  chainIDs,
  dockerOk,
  makeDockerImages,
  readLayerdb,
  since,
  startDockerd,
  type DockerImages,
  type Dockerd,
} from '../helpers/peers.js';
import { startRegistry, type Registry } from '../helpers/registry.js';

const T0 = Date.now();
const scope = new Scope();
after(() => {
  scope.dispose();
  process.stderr.write(`docker-push-pull.test: ${since(T0)} in all\n`);
});

let d: Dockerd;
let imgs: DockerImages;
let reg: Registry;
/** RepoDigests dockerd recorded when it pushed. */
const pushed: Record<string, string> = {};
const REFS = ['bbx:base', 'bbx:multi'] as const;

before(
  async () => {
    const work = scope.tempDir('dpush');
    reg = await startRegistry(scope);
    d = startDockerd(scope, 'dpush', join(work, 'docker'));
    imgs = makeDockerImages(d, work);
    for (const r of REFS) {
      const target = `${reg.host}/${r}`;
      dockerOk(d.host, ['tag', r, target]);
      dockerOk(d.host, ['push', target]);
      const digests = JSON.parse(dockerOk(d.host, ['image', 'inspect', target]))[0].RepoDigests as string[];
      pushed[r] = digests.find((x) => x.startsWith(`${reg.host}/`))!;
    }
  },
  { timeout: 300_000 },
);

test('berth pull of what docker pushed: same image IDs, diff_ids, chainIDs, RepoDigests', () => {
  const root = scope.tempDir('dpush-berth');
  for (const r of REFS) {
    const ref = `${reg.host}/${r}`;
    const out = berthOk(root, ['pull', ref]);
    assert.match(out, new RegExp(`^Status: Downloaded newer image for ${ref}$`, 'm'));
    const info = JSON.parse(berthOk(root, ['image', 'inspect', ref]))[0];
    assert.equal(info.Id, imgs.ids[r]);
    assert.deepEqual(info.RootFS.Layers, imgs.diffIDs[r]);
    assert.deepEqual(info.RepoDigests, [pushed[r]]);
    assert.match(out, new RegExp(`^Digest: ${pushed[r]!.split('@')[1]}$`, 'm'));
  }
  // bbx:multi builds on bbx:base: its base layer was already there
  const again = berthOk(root, ['pull', `${reg.host}/bbx:multi`]);
  assert.match(again, /Image is up to date/);
  const mine = readLayerdb(root);
  const theirs = readLayerdb(d.dataRoot);
  for (const r of REFS)
    for (const c of chainIDs(imgs.diffIDs[r])) {
      assert.ok(mine.has(c), `berth has no layer ${c}`);
      assert.equal(mine.get(c)!.diff, theirs.get(c)!.diff);
      assert.equal(mine.get(c)!.size, theirs.get(c)!.size);
      assert.equal(mine.get(c)!.parent, theirs.get(c)!.parent);
      assert.deepEqual(mine.get(c)!.tarSplit, theirs.get(c)!.tarSplit);
    }
  // dockerd's distribution metadata, as dockerd wrote it when it pushed
  const dist = (r: string, sub: string) => join(r, 'image/overlay2/distribution', sub, 'sha256');
  const blobs = fs.readdirSync(dist(root, 'diffid-by-digest'));
  assert.equal(blobs.length, new Set(REFS.flatMap((r) => imgs.diffIDs[r])).size);
  for (const b of blobs) {
    const diffID = fs.readFileSync(join(dist(root, 'diffid-by-digest'), b), 'utf8');
    assert.equal(diffID, fs.readFileSync(join(dist(d.dataRoot, 'diffid-by-digest'), b), 'utf8'));
    const mine = JSON.parse(fs.readFileSync(join(dist(root, 'v2metadata-by-diffid'), diffID.slice(7)), 'utf8'));
    const theirs = JSON.parse(fs.readFileSync(join(dist(d.dataRoot, 'v2metadata-by-diffid'), diffID.slice(7)), 'utf8'));
    const want = { Digest: `sha256:${b}`, SourceRepository: `${reg.host}/bbx`, HMAC: '' };
    assert.deepEqual(mine, [want]);
    assert.ok(
      theirs.some(
        (e: { Digest: string; SourceRepository: string }) =>
          e.Digest === want.Digest && e.SourceRepository === want.SourceRepository,
      ),
      JSON.stringify(theirs),
    );
  }
  const cat = berth(root, ['run', '--rm', `${reg.host}/bbx:multi`, 'cat', ...Object.keys(MULTI_FILES)]);
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout, Object.values(MULTI_FILES).join(''));
});
