/**
 * Volumes in Docker's layout both ways: dockerd started on a store where berth made volumes lists
 * them and mounts their content; a volume dockerd made there is one berth lists and mounts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { berth, berthOk, tempRoot } from '../helpers/berth.js';
import { Scope, dockerOk, startDockerd } from '../helpers/peers.js';

const scope = new Scope();
after(() => scope.dispose());

test('dockerd on a berth store sees berth volumes; berth sees the volumes dockerd made', () => {
  const t = tempRoot('berth-vol-dockerd');
  scope.defer(`remove ${t.root}`, t.remove);
  const root = t.root;
  berthOk(root, ['image', 'from-host', 'base', 'sh', 'cat', 'echo']);
  berthOk(root, ['volume', 'create', '--label', 'made=berth', 'shared']);
  berthOk(root, ['run', '--rm', '-v', 'shared:/v', 'base', 'sh', '-c', 'echo from-berth > /v/f']);
  // a bind volume of the local driver: dockerd reads berth's opts.json and mounts the device
  const device = scope.tempDir('device');
  fs.writeFileSync(join(device, 'dev-file'), 'on the device\n');
  berthOk(root, ['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${device}`, 'bound']);

  const d = startDockerd(scope, 'volumes', root);
  try {
    const names = dockerOk(d.host, ['volume', 'ls', '-q']).split('\n');
    assert.ok(names.includes('shared'), names.join(' '));
    assert.equal(
      dockerOk(d.host, ['run', '--rm', '--pull', 'never', '-v', 'shared:/v', 'base', 'cat', '/v/f']),
      'from-berth\n',
    );
    assert.equal(
      dockerOk(d.host, ['run', '--rm', '--pull', 'never', '-v', 'bound:/dev-vol', 'base', 'cat', '/dev-vol/dev-file']),
      'on the device\n',
    );
    dockerOk(d.host, ['volume', 'create', 'dv']);
    dockerOk(d.host, ['run', '--rm', '--pull', 'never', '-v', 'dv:/d', 'base', 'sh', '-c', 'echo from-docker > /d/g']);
  } finally {
    d.stop();
  }

  assert.deepEqual(berthOk(root, ['volume', 'ls', '-q']).split('\n').filter(Boolean).sort(), ['bound', 'dv', 'shared']);
  const r = berth(root, ['run', '--rm', '-v', 'dv:/d', '-v', 'shared:/v', 'base', 'cat', '/d/g', '/v/f']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'from-docker\nfrom-berth\n');
  const [dv] = JSON.parse(berthOk(root, ['volume', 'inspect', 'dv']));
  assert.equal(dv.Driver, 'local');
  assert.match(dv.CreatedAt, /^\d{4}-/);
  assert.deepEqual(JSON.parse(berthOk(root, ['volume', 'inspect', 'shared']))[0].Labels, { made: 'berth' });
  assert.match(berthOk(root, ['system', 'check']), /ok/);
});
