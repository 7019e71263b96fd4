import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';
import { configId, dockerArchive, hdr, makeTar, sha } from '../helpers/archive.js';
import { snapshot } from '../helpers/store-state.js';

const t = tempRoot('berth-load-archive');
after(() => t.remove());

const layer = makeTar([[hdr('etc/hostname'), 'box\n']]);
const hex64 = 'a'.repeat(64);

/** A one-image docker-archive whose config JSON is rewritten by `edit` and stored under `name(bytes)`. */
function withConfig(
  edit: (c: Record<string, unknown>) => void,
  name: (bytes: Buffer) => string = (b) => `${sha(b)}.json`,
  tags = ['edited:1'],
): { archive: Buffer; id: string } {
  let id = '';
  const archive = dockerArchive([{ layers: [layer], tags }], (f) => {
    const old = configId(f);
    const c = JSON.parse(f.get(old)!.toString());
    edit(c);
    const bytes = Buffer.from(JSON.stringify(c));
    id = `sha256:${sha(bytes)}`;
    f.delete(old);
    f.set(name(bytes), bytes);
    const m = JSON.parse(f.get('manifest.json')!.toString());
    m[0].Config = name(bytes);
    f.set('manifest.json', Buffer.from(JSON.stringify(m)));
  });
  return { archive, id };
}

function seeded(name: string): string {
  const root = `${t.root}/${name}`;
  berthOk(root, ['load'], { input: dockerArchive([{ layers: [layer], tags: ['seed:1'] }]) });
  return root;
}

// [RepoTags entry, what `berth images` shows after load, or the refusal]
const repoTags: Array<[string, string | RegExp]> = [
  ['UPPER:1', /RepoTags entry "UPPER:1": invalid reference format: repository name \(UPPER\) must be lowercase/],
  ['me/App:1', /repository name \(me\/App\) must be lowercase/],
  [hex64, /invalid repository name \(a{64}\), cannot specify 64-byte hexadecimal strings/],
  [`${hex64}:1`, /cannot specify 64-byte hexadecimal strings/],
  [`sha256:${hex64}`, /ambiguous tag using digest algorithm as name/],
  ['a:b:c', /invalid reference format/],
  [`x@sha256:${hex64}`, /RepoTags entry "x@sha256:a{64}" has a digest/],
  ['Upper/name:1', 'Upper/name:1'],
  ['index.docker.io/library/idx:2', 'idx:2'],
  ['notag', 'notag:latest'],
];

test('load docker-archive: RepoTags go through the grammar of `tag`, and both agree', () => {
  const root = seeded('repotags');
  const seedId = JSON.parse(berthOk(root, ['image', 'inspect', 'seed:1']))[0].Id;
  for (const [entry, expect] of repoTags) {
    const before = snapshot(root);
    const r = berth(root, ['load'], { input: dockerArchive([{ layers: [layer], tags: [entry] }]) });
    const tagged = berth(root, ['tag', 'seed:1', entry]);
    if (typeof expect === 'string') {
      assert.equal(r.code, 0, `${entry}: ${r.stderr}`);
      assert.equal(r.stdout, `Loaded image: ${expect}\n`);
      assert.equal(tagged.code, 0, `tag ${entry}: ${tagged.stderr}`);
      assert.equal(JSON.parse(berthOk(root, ['image', 'inspect', expect]))[0].Id, seedId);
    } else {
      assert.equal(r.code, 1, `${entry}: ${r.stdout}`);
      assert.match(r.stderr, expect, entry);
      assert.deepEqual(snapshot(root), before, `load ${entry} stored nothing`);
      if (!entry.includes('@')) {
        assert.equal(tagged.code, 1, `tag ${entry} is refused too`);
        assert.match(tagged.stderr, new RegExp(expect.source.replace(/^RepoTags entry "[^"]*": /, '')), `tag ${entry}`);
      }
      assert.deepEqual(snapshot(root), before, `tag ${entry} stored nothing`);
    }
  }
});

test('load docker-archive: an image for another operating system is refused; linux in any case, or none, loads', () => {
  const root = seeded('os');
  const before = snapshot(root);
  for (const os of ['windows', 'darwin', 'freebsd']) {
    const r = berth(root, ['load'], {
      input: withConfig((c) => {
        c.os = os;
      }).archive,
    });
    assert.equal(r.code, 1, os);
    assert.match(
      r.stderr,
      new RegExp(`docker-archive image 0: image operating system "${os}" cannot be used on this platform`),
    );
    assert.deepEqual(snapshot(root), before, os);
  }
  for (const [os, tag] of [
    ['Linux', 'upper:1'],
    ['', 'empty:1'],
  ] as const) {
    const { archive, id } = withConfig(
      (c) => {
        c.os = os;
      },
      undefined,
      [tag],
    );
    assert.equal(berthOk(root, ['load'], { input: archive }), `Loaded image: ${tag}\n`);
    assert.equal(JSON.parse(berthOk(root, ['image', 'inspect', tag]))[0].Id, id);
  }
});

test("load docker-archive: the config file's name is not its identity, except under blobs/sha256/", () => {
  const root = seeded('names');
  const cases: Array<[string, (b: Buffer) => string]> = [
    ['any name', () => 'config.json'],
    ['a stale digest name', () => `${'0'.repeat(64)}.json`],
    ['a nested name', () => 'images/one/cfg'],
  ];
  cases.forEach(([what, name], i) => {
    const { archive, id } = withConfig(
      (c) => {
        c.comment = what;
      },
      name,
      [`named:${i}`],
    );
    assert.equal(berthOk(root, ['load'], { input: archive }), `Loaded image: named:${i}\n`, what);
    assert.equal(
      JSON.parse(berthOk(root, ['image', 'inspect', `named:${i}`]))[0].Id,
      id,
      `${what}: the ID is the sha256 of the config bytes`,
    );
  });
  const before = snapshot(root);
  const { archive } = withConfig(
    (c) => {
      c.comment = 'blob';
    },
    () => `blobs/sha256/${'1'.repeat(64)}`,
  );
  const r = berth(root, ['load'], { input: archive });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config "blobs\/sha256\/1{64}" does not match its digest/);
  assert.deepEqual(snapshot(root), before);
});

test('load docker-archive: a manifest.json that lists no images loads nothing and exits 0', () => {
  const root = seeded('empty');
  const before = snapshot(root);
  const r = berth(root, ['load'], { input: makeTar([[hdr('manifest.json'), '[]']]) });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
  assert.deepEqual(snapshot(root), before);
  const nul = berth(root, ['load'], { input: makeTar([[hdr('manifest.json'), 'null']]) });
  assert.equal(nul.code, 1, 'null is not an empty list');
  assert.match(nul.stderr, /manifest.json is not a list/);
});

test('load -i: a missing, unreadable or directory input is a message naming it, exit 1, nothing stored', () => {
  const root = seeded('input');
  const before = snapshot(root);
  const dir = `${t.root}/a-directory`;
  fs.mkdirSync(dir, { recursive: true });
  const cases: Array<[string, RegExp]> = [
    [`${t.root}/no-such.tar`, /open ".*\/no-such.tar": no such file or directory/],
    [`${t.root}/no-such-dir/x.tar`, /open ".*\/no-such-dir\/x.tar": no such file or directory/],
    [dir, /read ".*\/a-directory": is a directory/],
  ];
  for (const [path, re] of cases) {
    const r = berth(root, ['load', '-i', path]);
    assert.equal(r.code, 1, path);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at |ENOENT|Error:/, 'no stack trace or raw Node error');
    assert.deepEqual(snapshot(root), before, path);
  }
});
