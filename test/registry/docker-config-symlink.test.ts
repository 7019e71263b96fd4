/**
 * config.json kept elsewhere behind a symlink (dotfiles): `login`/`logout` used to rename a new
 * file over the link, so the link was gone and the real file kept the credentials a logout was to
 * remove. The link is followed to its target (dangling or not), as the docker CLI's Save does; a
 * directory or a device at the end is refused and left as it was (a fifo is not tried: reading it
 * blocks, as it does for the docker CLI).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { eraseCredentials, getCredentials, storeCredentials } from '../../src/registry/docker-config.js';
import { BERTH, tempRoot } from '../helpers/berth.js';

const t = tempRoot('berth-docker-config-link');
after(() => t.remove());
let n = 0;
const caseDir = () => {
  const d = join(t.root, `case-${++n}`);
  fs.mkdirSync(join(d, 'dotfiles'), { recursive: true });
  fs.mkdirSync(join(d, '.docker'));
  return d;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('a symlinked config.json: logout and login change the file it names, the link stays', () => {
  const d = caseDir();
  const real = join(d, 'dotfiles', 'config.json');
  const link = join(d, '.docker', 'config.json');
  fs.writeFileSync(real, JSON.stringify({ auths: { 'localhost:5999': { auth: b64('u:p') } }, detachKeys: 'ctrl-x' }));
  fs.symlinkSync('../dotfiles/config.json', link);
  // through the CLI, as a user logs out
  const r = spawnSync(BERTH, ['logout', 'localhost:5999'], {
    env: { ...process.env, DOCKER_CONFIG: join(d, '.docker') },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.lstatSync(link).isSymbolicLink(), 'the link is still a link');
  assert.equal(fs.readlinkSync(link), '../dotfiles/config.json');
  const after1 = JSON.parse(fs.readFileSync(real, 'utf8'));
  assert.deepEqual(after1.auths, {}, 'the credentials are gone from the real file');
  assert.equal(after1.detachKeys, 'ctrl-x');
  storeCredentials(join(d, '.docker'), 'localhost:5998', 'me', 'secret');
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.deepEqual(getCredentials(join(d, '.docker'), 'localhost:5998'), {
    username: 'me',
    password: 'secret',
    serveraddress: 'localhost:5998',
  });
  assert.equal(fs.statSync(real).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(join(d, 'dotfiles')), ['config.json'], 'no staging file left');
  assert.deepEqual(fs.readdirSync(join(d, '.docker')), ['config.json']);
});

test('a dangling symlink: the file is made where it points, the link stays', () => {
  const d = caseDir();
  const link = join(d, '.docker', 'config.json');
  fs.symlinkSync(join(d, 'dotfiles', 'later.json'), link);
  storeCredentials(join(d, '.docker'), 'localhost:5997', 'a', 'b');
  assert.ok(fs.lstatSync(link).isSymbolicLink());
  assert.equal(
    JSON.parse(fs.readFileSync(join(d, 'dotfiles', 'later.json'), 'utf8')).auths['localhost:5997'].auth,
    b64('a:b'),
  );
});

test('a directory, or a link to a device, at config.json is refused and left as it was', () => {
  for (const kind of ['directory', 'device']) {
    const d = caseDir();
    const link = join(d, '.docker', 'config.json');
    const end = join(d, 'dotfiles', 'end');
    if (kind === 'directory') fs.mkdirSync(link);
    else {
      execFileSync('mknod', [end, 'c', '1', '3']);
      fs.symlinkSync(end, link);
    }
    const before = fs.lstatSync(kind === 'directory' ? link : end);
    assert.throws(
      () => eraseCredentials(join(d, '.docker'), 'x') || storeCredentials(join(d, '.docker'), 'localhost:1', 'u', 'p'),
      /is not a regular file|EISDIR|illegal operation on a directory/,
      kind,
    );
    const now = fs.lstatSync(kind === 'directory' ? link : end);
    assert.deepEqual([now.ino, now.mode, now.rdev], [before.ino, before.mode, before.rdev], kind);
    if (kind !== 'directory') assert.ok(fs.lstatSync(link).isSymbolicLink(), kind);
  }
});
