/**
 * `berth version`, `info`, `system df [-v]`, `builder prune`, `ps --format {{.Label "k"}}` and the before/since
 * filters of ps and images, through the CLI on a real data root, against docker 28's text layout (the labels a
 * private dockerd's `docker version` / `docker info` print, in the same order).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { berth, berthOk } from '../helpers/berth.js';
import { Scope, dockerOk, startDockerd } from '../helpers/peers.js';
import { clientVersion, versionText } from '../../src/cli/commands/version.js';

const scope = new Scope();
let root: string;

before(
  () => {
    root = scope.tempDir('berth-cli-system');
    berthOk(root, ['image', 'from-host', 'base', 'sh', 'true']);
  },
  { timeout: 120_000 },
);

after(() => {
  for (const c of berthOk(root, ['ps', '-aq']).split('\n').filter(Boolean)) berth(root, ['rm', '-f', c]);
  scope.dispose();
});

/** "Label:" of each line of a docker text report, with its indent: the layout without the values. */
const labels = (text: string) =>
  text
    .split('\n')
    .map((l) => /^(\s*[^:]+):/.exec(l)?.[1])
    .filter((l): l is string => !!l);

test('version --format reads the engine; the text has docker 28 layout (Go version -> Node version)', () => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(berthOk(root, ['version', '--format', '{{.Server.Version}}']), `${pkg.version}\n`);
  assert.equal(berthOk(root, ['version', '-f', '{{.Client.ApiVersion}}']), '1.41\n');
  const json = JSON.parse(berthOk(root, ['version', '--format', '{{json .}}'])) as {
    Client: Record<string, string>;
    Server: { Components: Array<{ Name: string }>; ApiVersion: string; MinAPIVersion: string };
  };
  assert.deepEqual(Object.keys(json), ['Client', 'Server']);
  assert.equal(json.Server.MinAPIVersion, '1.24');
  assert.equal(json.Client.GoVersion, process.version);
  assert.equal(berthOk(root, ['--version']), `berth version ${pkg.version}\n`, '--version stays one line');
  const text = berthOk(root, ['version']);
  assert.match(text, /^ API version:       1\.41\n/m);
  assert.match(text, /^  API version:      1\.41 \(minimum version 1\.24\)\n/m);
  assert.equal(text, versionText({ Client: clientVersion(json.Server as never), Server: json.Server as never }));
  const bad = berth(root, ['version', '--format', '{{.Nope}}']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Nope/);
});

test('info --format reads fields by their JSON names; the text is docker 28 layout; counts follow containers', () => {
  assert.equal(berthOk(root, ['info', '--format', '{{.Driver}}']), 'overlay2\n');
  assert.equal(berthOk(root, ['info', '--format', '{{.NCPU}}']), `${os.availableParallelism()}\n`);
  assert.equal(berthOk(root, ['system', 'info', '--format', '{{.DockerRootDir}}']), `${root}\n`);
  berthOk(root, ['create', '--name', 'one', 'base', 'true']);
  assert.equal(
    berthOk(root, ['info', '--format', '{{.Containers}} {{.ContainersStopped}} {{.Images}}']),
    `1 1 ${berthOk(root, ['images', '-aq']).trim().split('\n').length}\n`,
  );
  const json = JSON.parse(berthOk(root, ['info', '--format', '{{json .}}'])) as Record<string, unknown>;
  assert.equal((json.ClientInfo as { Context: string }).Context, 'default');
  assert.equal(json.ServerVersion, berthOk(root, ['version', '--format', '{{.Server.Version}}']).trim());
  const r = berth(root, ['info']);
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /^Client:\n Version: {4}\S+\n Context: {4}default\n Debug Mode: false\n\nServer:\n Containers: 1\n {2}Running: 0\n {2}Paused: 0\n {2}Stopped: 1\n/,
  );
  assert.match(r.stdout, /^ Storage Driver: overlay2\n {2}Backing Filesystem: \S+\n {2}Supports d_type: true\n/m);
  assert.match(r.stdout, /^ Security Options:\n {2}seccomp\n {3}Profile: builtin\n {2}cgroupns\n/m);
  assert.match(r.stdout, / Insecure Registries:\n {2}127\.0\.0\.0\/8\n Live Restore Enabled: false\n$/);
  for (const w of r.stderr.split('\n').filter(Boolean)) assert.match(w, /^WARNING: /);
});

test("version and info print docker's labels in docker's order (those that apply)", { timeout: 120_000 }, () => {
  const d = startDockerd(scope, 'cli-system', scope.tempDir('berth-cli-system-dockerd'));
  const ours = (args: string[]) => labels(berthOk(root, args));
  const theirs = (args: string[]) => labels(dockerOk(d.host, args));
  // docker's that berth has not: containerd, docker-init, swarm's; Go version is Node version
  const notBerth = /^( containerd| docker-init| Init Binary| containerd version| init version|  GitCommit| Context)$/;
  const inOrder = (mine: string[], docker: string[], what: string) => {
    const wanted = docker.map((l) => l.replace('Go version', 'Node version')).filter((l) => !notBerth.test(l));
    let at = 0;
    for (const l of wanted) {
      const i = mine.indexOf(l, at);
      assert.ok(i >= 0, `${what}: "${l}" after "${mine[at - 1]}" (berth's: ${JSON.stringify(mine)})`);
      at = i + 1;
    }
  };
  inOrder(ours(['version']), theirs(['version']).slice(0, 7), 'version Client');
  inOrder(
    ours(['version']),
    theirs(['version'])
      .filter((l) => l.startsWith('  '))
      .slice(0, 7),
    'version Engine',
  );
  inOrder(ours(['info']), theirs(['info']), 'info');
});

test('system df counts containers; -v lists each image, container, volume and the build cache', () => {
  berthOk(root, ['volume', 'create', 'vol1']);
  berthOk(root, ['create', '--name', 'withvol', '-v', 'vol1:/data', 'base', 'true']);
  const df = berthOk(root, ['system', 'df', '--format', '{{.Type}}={{.TotalCount}}/{{.Active}}']);
  const n = berthOk(root, ['ps', '-aq']).trim().split('\n').length;
  assert.match(df, new RegExp(`^Containers=${n}/0$`, 'm'));
  assert.match(df, /^Local Volumes=1\/1$/m);
  assert.match(df, /^Build Cache=0\/0$/m);
  const v = berthOk(root, ['system', 'df', '-v']);
  assert.match(
    v,
    /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
  );
  assert.match(v, /^base +latest +[0-9a-f]{12} /m);
  assert.match(
    v,
    /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/,
  );
  assert.match(v, /^[0-9a-f]{12} +base +"true" +1 +0B +.* +Created +withvol$/m);
  assert.match(v, /\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\nvol1 +1 +0B\n/);
  assert.match(v, /\nBuild cache usage: 0B\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n$/);
  const j = JSON.parse(berthOk(root, ['system', 'df', '-v', '--format', '{{json .}}'])) as Record<string, unknown[]>;
  assert.deepEqual(Object.keys(j), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.equal(j.Containers!.length, n);
});

test('builder prune: asks unless -f, refuses unknown filters before asking, removes partial downloads', () => {
  const partial = `${root}/berth/partial`;
  fs.mkdirSync(partial, { recursive: true });
  const f = `${partial}/sha256-${'c'.repeat(64)}`;
  fs.writeFileSync(f, Buffer.alloc(2000));
  const bad = berth(root, ['builder', 'prune', '-f', '--filter', 'type=regular']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid filter 'type'/);
  const no = berth(root, ['builder', 'prune'], { input: 'n\n' });
  assert.equal(
    no.stdout,
    'WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ',
  );
  assert.ok(fs.existsSync(f), 'kept when the answer is no');
  assert.match(
    berthOk(root, ['system', 'df', '--format', '{{.Type}}={{.TotalCount}} {{.Size}}']),
    /^Build Cache=1 2kB$/m,
  );
  assert.equal(
    berthOk(root, ['builder', 'prune', '-a', '-f']),
    `Deleted build cache objects:\nsha256:${'c'.repeat(64)}\n\nTotal reclaimed space: 2kB\n`,
  );
  assert.ok(!fs.existsSync(f));
  assert.equal(berthOk(root, ['builder', 'prune', '-f']), 'Total reclaimed space: 0B\n');
});

test('ps --format {{.Label "k"}}; ps and images --filter before=/since=', () => {
  berthOk(root, ['create', '--name', 'l1', '-l', 'app=web', '-l', 'tier=1', 'base', 'true']);
  berthOk(root, ['create', '--name', 'l2', 'base', 'true']);
  const out = berthOk(root, [
    'ps',
    '-a',
    '--filter',
    'name=^l',
    '--format',
    '{{.Names}}:{{.Label "app"}}:{{.Label "tier"}}',
  ]);
  assert.deepEqual(out.trim().split('\n').sort(), ['l1:web:1', 'l2::']);
  assert.equal(berthOk(root, ['ps', '-a', '--filter', 'since=l1', '--format', '{{.Names}}']), 'l2\n');
  assert.ok(berthOk(root, ['ps', '-a', '--filter', 'before=l2', '--format', '{{.Names}}']).split('\n').includes('l1'));
  assert.ok(!berthOk(root, ['ps', '-a', '--filter', 'before=l2', '--format', '{{.Names}}']).split('\n').includes('l2'));
  berthOk(root, ['commit', 'l1', 'newer:1']);
  assert.equal(berthOk(root, ['images', '--filter', 'since=base', '--format', '{{.Repository}}']), 'newer\n');
  assert.equal(berthOk(root, ['images', '--filter', 'before=newer:1', '--format', '{{.Repository}}']), 'base\n');
});
