/**
 * config.json as the docker CLI reads and writes it: `auths` with base64 user:password, Docker
 * Hub under https://index.docker.io/v1/, keys found by host, unknown keys kept, mode 0600, and the
 * credential-helper protocol with a real docker-credential-* program on PATH.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { eraseCredentials, getCredentials, storeCredentials } from '../../src/registry/docker-config.js';
import { Scope } from '../helpers/peers.js';

const scope = new Scope();
after(() => scope.dispose());
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('auths: read by host, Docker Hub by its v1 URL, written as docker writes it', () => {
  const dir = join(scope.tempDir('cfg'), '.docker');
  assert.equal(getCredentials(dir, 'localhost:5000'), undefined);
  fs.mkdirSync(dir);
  fs.writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'http://reg.example:5000': { auth: b64('u:p') },
        'tok.example': { identitytoken: 'refresh-me' },
      },
      detachKeys: 'ctrl-x',
    }),
  );
  assert.deepEqual(getCredentials(dir, 'docker.io'), {
    serveraddress: 'https://index.docker.io/v1/',
    username: 'hubuser',
    password: 'hub:pass',
  });
  assert.deepEqual(getCredentials(dir, 'reg.example:5000'), {
    serveraddress: 'http://reg.example:5000',
    username: 'u',
    password: 'p',
  });
  assert.deepEqual(getCredentials(dir, 'tok.example'), { serveraddress: 'tok.example', identitytoken: 'refresh-me' });
  assert.equal(getCredentials(dir, 'reg.example'), undefined);

  storeCredentials(dir, 'localhost:5000', 'me', 'pw');
  storeCredentials(dir, 'https://index.docker.io/v1/', 'hub2', 'x');
  const text = fs.readFileSync(join(dir, 'config.json'), 'utf8');
  assert.match(text, /^\{\n\t"auths": \{/);
  const cfg = JSON.parse(text);
  assert.equal(cfg.detachKeys, 'ctrl-x');
  assert.deepEqual(cfg.auths['localhost:5000'], { auth: b64('me:pw') });
  assert.deepEqual(cfg.auths['https://index.docker.io/v1/'], { auth: b64('hub2:x') });
  assert.equal(fs.statSync(join(dir, 'config.json')).mode & 0o777, 0o600);
  assert.equal(eraseCredentials(dir, 'localhost:5000'), true);
  assert.equal(eraseCredentials(dir, 'localhost:5000'), false);
  assert.equal(JSON.parse(fs.readFileSync(join(dir, 'config.json'), 'utf8')).auths['localhost:5000'], undefined);
  fs.writeFileSync(join(dir, 'config.json'), '{"auths": ');
  assert.throws(() => getCredentials(dir, 'x'), /config\.json/);
});

test('credential helpers: credsStore and credHelpers run docker-credential-<name> get/store/erase', () => {
  const work = scope.tempDir('helper');
  const bin = join(work, 'bin');
  const store = join(work, 'store');
  fs.mkdirSync(bin);
  fs.mkdirSync(store);
  // a real helper speaking the protocol: one file per server URL
  fs.writeFileSync(
    join(bin, 'docker-credential-berthtest'),
    `#!/bin/sh
set -e
case "$1" in
  store) in=$(cat); url=$(printf '%s' "$in" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p'); printf '%s' "$in" > "${store}/$(printf '%s' "$url" | tr '/:' '__')";;
  get) url=$(cat); k="${store}/$(printf '%s' "$url" | tr '/:' '__')"; if [ -f "$k" ]; then cat "$k"; else echo "credentials not found in native keychain"; exit 1; fi;;
  erase) url=$(cat); k="${store}/$(printf '%s' "$url" | tr '/:' '__')"; if [ -f "$k" ]; then rm "$k"; else echo "credentials not found in native keychain"; exit 1; fi;;
esac
`,
    { mode: 0o755 },
  );
  const dir = join(work, '.docker');
  fs.mkdirSync(dir);
  fs.writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}:${oldPath}`;
  try {
    assert.equal(getCredentials(dir, 'reg.example'), undefined);
    storeCredentials(dir, 'reg.example', 'alice', 'pw1');
    assert.deepEqual(getCredentials(dir, 'reg.example'), {
      username: 'alice',
      password: 'pw1',
      serveraddress: 'reg.example',
    });
    const cfg = JSON.parse(fs.readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.auths, { 'reg.example': {} });
    assert.equal(cfg.credsStore, 'berthtest');
    assert.equal(eraseCredentials(dir, 'reg.example'), true);
    assert.equal(getCredentials(dir, 'reg.example'), undefined);
    // credHelpers for one registry wins over credsStore; a missing program is a clear error
    fs.writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ credsStore: 'absent', credHelpers: { 'reg.example': 'berthtest' } }),
    );
    storeCredentials(dir, 'reg.example', '<token>', 'refresh');
    assert.deepEqual(getCredentials(dir, 'reg.example'), { identitytoken: 'refresh', serveraddress: 'reg.example' });
    assert.throws(() => getCredentials(dir, 'other.example'), /docker-credential-absent: executable file not found/);
  } finally {
    process.env.PATH = oldPath;
  }
});
