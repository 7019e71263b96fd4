import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BERTH, berth, berthOk, mountsUnder, tempRoot, type RunResult } from '../helpers/berth.js';

// Prune decides under the store lock and holds what it chose: what another process starts or tags at the same time is
// either left alone or was gone before that process found it, never removed after it succeeded.
const t = tempRoot('berth-prune-race');
const root = t.root;
const ok = (args: string[]) => berthOk(root, args).trim();

before(() => {
  ok(['image', 'from-host', 'base', 'sh', 'sleep', 'true']);
});
after(() => {
  for (const c of ok(['ps', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  assert.deepEqual(mountsUnder(root), []);
  t.remove();
});

function berthAsync(args: string[]): Promise<RunResult> {
  return new Promise((res) => {
    const c = spawn(BERTH, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (code) => res({ code: code ?? 137, stdout, stderr }));
  });
}

test('container prune racing starts: a container whose start succeeded is still there and running', async () => {
  for (let round = 0; round < 3; round++) {
    const ids = Array.from({ length: 8 }, () => ok(['create', 'base', 'sleep', '600']));
    const starts = ids.map((id) => berthAsync(['start', id]));
    const prune = berthAsync(['container', 'prune', '-f']);
    const results = await Promise.all(starts);
    assert.equal((await prune).code, 0);
    const left = new Set(ok(['ps', '-q', '--no-trunc']).split('\n').filter(Boolean));
    results.forEach((r, i) => {
      if (r.code === 0) assert.ok(left.has(ids[i]!), `started ${ids[i]} was pruned: ${r.stderr}`);
      else assert.match(r.stderr, /No such container/);
    });
    for (const id of left) ok(['rm', '-f', id]);
  }
});

test('image prune racing a tag: an image whose tag succeeded is still there', async () => {
  for (let round = 0; round < 4; round++) {
    // the same name twice: the first image is left dangling
    ok(['image', 'from-host', 'old', 'true']);
    const dangling = ok(['image', 'inspect', '-f', '{{.Id}}', 'old']);
    ok(['image', 'from-host', 'old', 'sh', 'true']);
    const [tag, prune] = await Promise.all([
      berthAsync(['tag', dangling, `kept:${round}`]),
      berthAsync(['image', 'prune', '-f']),
    ]);
    assert.equal(prune.code, 0, prune.stderr);
    const images = berth(root, ['image', 'inspect', '-f', '{{.Id}}', `kept:${round}`]);
    if (tag.code === 0) assert.equal(images.stdout.trim(), dangling, `tagged, then pruned: ${prune.stdout}`);
    else assert.match(tag.stderr, /No such image/);
    berth(root, ['rmi', `kept:${round}`]);
  }
});
