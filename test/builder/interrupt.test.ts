import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { alive, berth, berthOk, BERTH, mountsUnder, tempRoot, waitFor } from '../helpers/berth.js';

// A build ended by SIGINT or SIGTERM (Ctrl-C) leaves nothing of the step it interrupted, as dockerd does; a failed step
// keeps its container.
const t = tempRoot('berth-build-int');
const root = t.root;
const ctxs = tempRoot('berth-build-int-ctx');
before(() => {
  berthOk(root, ['image', 'from-host', 'base', 'sh', 'sleep', 'true', 'echo']);
});
after(() => {
  t.remove();
  ctxs.remove();
});

let n = 0;
function context(dockerfile: string): string {
  const dir = `${ctxs.root}/c${n++}`;
  fs.mkdirSync(dir);
  fs.writeFileSync(`${dir}/Dockerfile`, dockerfile);
  return dir;
}

/** Processes whose command line names this data root (berth) or runs the marker command (the step). */
function leftovers(marker: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (alive(Number(pid)) && (cmd.includes(root) || cmd.includes(marker))) out.push(`${pid} ${cmd}`);
  }
  return out;
}

const snapshot = () => ({
  containers: berthOk(root, ['ps', '-a', '-q']).trim(),
  overlay: fs.readdirSync(`${root}/overlay2`).sort(),
  mounts: fs.readdirSync(`${root}/image/overlay2/layerdb/mounts`).sort(),
  locks: fs.readdirSync(`${root}/berth/locks`).filter((f) => f.startsWith('ctr-')),
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} while a RUN step runs: no container, layer, mount or process is left; the store checks clean`, async () => {
    const marker = `${1000 + n}.5`; // a sleep time no other test uses: finds the step's processes
    const dir = context(`FROM base\nRUN echo first > /f\nRUN sleep ${marker}\nRUN true\n`);
    // the first step is cached by a build that ends normally: what is left after the interrupted one is compared to it
    berthOk(root, ['build', '-q', context('FROM base\nRUN echo first > /f\n')]);
    const before = snapshot();
    const b = spawn(BERTH, ['--root', root, 'build', '--progress', 'plain', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    b.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    b.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(
      () =>
        leftovers(`sleep ${marker}`).some((p) => p.includes(`sleep ${marker}`) && !p.includes('/bin/sh'))
          ? true
          : undefined,
      30000,
    );
    assert.match(out, /Step 3\/4 : RUN sleep/);
    b.kill(signal);
    const code = await new Promise<number | null>((r) => b.on('exit', (c) => r(c)));
    assert.equal(code, signal === 'SIGINT' ? 130 : 143, `exits with the status of the signal\n${out}`);
    assert.doesNotMatch(out, /Step 4\/4/, 'no step after the interrupted one');
    assert.doesNotMatch(out, /Error|error/, 'no error message: the user asked for it');
    assert.deepEqual(leftovers(`sleep ${marker}`), [], 'no berth, helper or step process is left');
    assert.deepEqual(mountsUnder(root), []);
    assert.deepEqual(snapshot(), before, 'no container, container layer, mount record or lock is left');
    const check = berth(root, ['system', 'check']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });
}

test('a RUN step that fails keeps its container for inspection (exited, its code); --force-rm removes it', () => {
  const dir = context('FROM base\nRUN sh -c "exit 3"\n');
  const r = berth(root, ['build', '-q', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /returned a non-zero code: 3/);
  const kept = berthOk(root, ['ps', '-a', '--format', '{{.Status}}']).trim();
  assert.match(kept, /^Exited \(3\)/);
  berthOk(root, ['rm', berthOk(root, ['ps', '-aq']).trim()]);
  const f = berth(root, ['build', '-q', '--force-rm', dir]);
  assert.equal(f.code, 1);
  assert.equal(berthOk(root, ['ps', '-aq']).trim(), '');
});
