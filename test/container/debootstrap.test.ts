/**
 * A real distribution in berth containers: the debootstrap bookworm minbase rootfs (scripts/fixtures.sh)
 * imported with `berth import`, then real programs run in it (os-release, id, /proc, apt-get, dpkg),
 * changes made in a container shown by `berth diff`, committed, and seen by a container of the commit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { BERTH, debootstrapTar, mountsUnder, tempRoot, type RunResult } from '../helpers/berth.js';

const t = tempRoot('berth-deb');
const root = t.root;
const IMG = 'deb:bookworm';
let imageId = '';

function berthT(args: string[], timeoutMs = 300_000): RunResult {
  const r = spawnSync(BERTH, ['--root', root, ...args], {
    maxBuffer: 1 << 28,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  return {
    code: r.status ?? 137,
    stdout: r.stdout?.toString() ?? '',
    stderr: (r.stderr?.toString() ?? '') + (r.error ? `\n${r.error.message}` : ''),
  };
}
function ok(args: string[]): string {
  const r = berthT(args);
  assert.equal(
    r.code,
    0,
    `berth ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`,
  );
  return r.stdout;
}
const run = (args: string[]) => berthT(['run', '--rm', ...args]);

before(
  () => {
    const tar = debootstrapTar();
    const t0 = Date.now();
    imageId = ok(['import', tar, IMG]).trim();
    process.stderr.write(`debootstrap.test: import ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
    assert.match(imageId, /^sha256:[0-9a-f]{64}$/);
  },
  { timeout: 600_000 },
);

after(() => {
  try {
    for (const m of mountsUnder(root).sort().reverse()) spawnSync('umount', ['-l', m]);
  } finally {
    t.remove();
  }
});

test('cat /etc/os-release: Debian 12 (bookworm), through its relative symlink', () => {
  const r = run([IMG, 'cat', '/etc/os-release']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^VERSION_CODENAME=bookworm$/m);
  assert.match(r.stdout, /^ID=debian$/m);
  assert.match(r.stdout, /^PRETTY_NAME="Debian GNU\/Linux 12 \(bookworm\)"$/m);
  const link = run([IMG, 'readlink', '/etc/os-release']);
  assert.equal(link.stdout, '../usr/lib/os-release\n');
});

test('-u nobody: id -un is nobody, uid/gid 65534, HOME from passwd', () => {
  const r = run(['-u', 'nobody', IMG, 'sh', '-c', 'id -un; id -u; id -g; echo $HOME']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'nobody\n65534\n65534\n/nonexistent\n');
  const root = run([IMG, 'sh', '-c', 'id -un; echo $HOME']);
  assert.equal(root.stdout, 'root\n/root\n');
  // groups resolved from the image's /etc/group (a system user in a supplementary group)
  const grp = run(['-u', 'www-data:tty', IMG, 'id']);
  assert.equal(grp.code, 0, grp.stderr);
  assert.equal(grp.stdout, 'uid=33(www-data) gid=5(tty) groups=5(tty)\n');
});

test("/proc shows only the container's processes: few numeric entries, PID 1 among them", () => {
  const r = run([
    IMG,
    'sh',
    '-c',
    'ls /proc; echo ---; for p in /proc/[0-9]*; do printf "%s " "${p#/proc/}"; tr "\\0" " " < $p/cmdline; echo; done',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [listing, cmds] = r.stdout.split('---\n') as [string, string];
  const pids = listing
    .split('\n')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  assert.ok(pids.includes(1), `PID 1 in ${pids}`);
  assert.ok(pids.length <= 3, `only the container's processes (sh, ls, maybe a subshell), got ${pids.join(' ')}`);
  assert.ok(Math.max(...pids) < 100, `pids are the container namespace's: ${pids.join(' ')}`);
  assert.match(cmds, /^1 sh -c ls \/proc/m, "PID 1 is the container's command");
  const hostPids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  assert.ok(hostPids > pids.length, 'the host has more processes than the container sees');
});

test('apt-get --version and dpkg -l run', () => {
  const apt = run([IMG, 'apt-get', '--version']);
  assert.equal(apt.code, 0, apt.stderr);
  assert.match(apt.stdout, /^apt \d+\.\d+\.\S+ \(\w+\)$/m);
  const dpkg = run([
    IMG,
    'sh',
    '-c',
    'dpkg -l | head -n 12; echo ---; dpkg -l | grep -c "^ii "; dpkg-query -W -f="\\${Status}\\n" base-files dpkg apt',
  ]);
  assert.equal(dpkg.code, 0, dpkg.stderr);
  const [head, rest] = dpkg.stdout.split('---\n') as [string, string];
  assert.match(head, /^Desired=Unknown\/Install\/Remove\/Purge\/Hold$/m);
  assert.match(head, /^ii {2}\S+ /m);
  const [count, ...statuses] = rest.trim().split('\n');
  assert.ok(Number(count) > 50, `installed packages: ${count}`);
  assert.deepEqual(statuses, ['install ok installed', 'install ok installed', 'install ok installed']);
});

test('a file written and /etc/debian_version deleted: diff shows them; commit keeps them; a container of the commit sees them', () => {
  const name = 'deb-writer';
  const w = berthT([
    'run',
    '--name',
    name,
    IMG,
    'sh',
    '-c',
    'echo written > /root/new.txt && mkdir -p /srv/app && echo app > /srv/app/conf && rm /etc/debian_version',
  ]);
  assert.equal(w.code, 0, w.stderr);
  try {
    const diff = ok(['diff', name]).trim().split('\n');
    assert.deepEqual(diff, [
      'C /etc',
      'D /etc/debian_version',
      'C /root',
      'A /root/new.txt',
      'C /srv',
      'A /srv/app',
      'A /srv/app/conf',
    ]);
    const committed = ok(['commit', '-m', 'deb changes', name, 'deb:changed']).trim();
    assert.match(committed, /^sha256:[0-9a-f]{64}$/);
    const [img] = JSON.parse(ok(['image', 'inspect', 'deb:changed']));
    assert.equal(img.Id, committed);
    assert.equal(img.RootFS.Layers.length, 2);
    assert.equal(img.Parent, imageId);
    assert.equal(img.Comment, 'deb changes');
    const hist = ok(['history', '--no-trunc', '--format', '{{.Comment}}', 'deb:changed']);
    assert.match(hist, /deb changes/);
    const seen = run([
      'deb:changed',
      'sh',
      '-c',
      'cat /root/new.txt /srv/app/conf; test -e /etc/debian_version && echo present || echo gone; cat /etc/os-release | grep CODENAME',
    ]);
    assert.equal(seen.code, 0, seen.stderr);
    assert.equal(seen.stdout, 'written\napp\ngone\nVERSION_CODENAME=bookworm\n');
    // the base image is unchanged
    const base = run([IMG, 'sh', '-c', 'cat /etc/debian_version; test -e /root/new.txt && echo leaked || echo clean']);
    assert.match(base.stdout, /^12\.\d+\nclean\n$/);
    // a container of the committed image has an empty diff until it writes
    const c2 = berthT(['run', '--name', 'deb-reader', 'deb:changed', 'true']);
    assert.equal(c2.code, 0, c2.stderr);
    assert.equal(ok(['diff', 'deb-reader']), '');
    ok(['rm', 'deb-reader']);
  } finally {
    berthT(['rm', '-f', name]);
    berthT(['rm', '-f', 'deb-reader']);
  }
  assert.deepEqual(mountsUnder(root), []);
  assert.match(ok(['system', 'check']), /ok/);
});
