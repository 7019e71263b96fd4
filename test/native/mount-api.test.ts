import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as native from '../../src/native/index.js';
import { mountOverlay, type OverlayMethod } from '../../src/container/rootfs.js';
import { mountSpec } from '../../src/storage/overlay2.js';
import { mountsUnder, tempRoot } from '../helpers/berth.js';

// Overlay mounts never change the process's cwd (a long-lived process serves many requests from it), neither through
// the mount API nor through the fallback for kernels without lowerdir+.
const t = tempRoot('berth-mountapi');
after(() => {
  for (const m of mountsUnder(t.root).reverse()) native.umount2(m, native.MNT_DETACH);
  t.remove();
});

/** An overlay2-like dir with `n` lower layers, each with a file of its own and a short l/ link. */
function layers(dir: string, n: number, longName = 'layer'): string {
  fs.mkdirSync(`${dir}/l`, { recursive: true });
  const lower: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${longName}${i}`;
    fs.mkdirSync(`${dir}/${id}/diff`, { recursive: true });
    fs.writeFileSync(`${dir}/${id}/diff/f${i}`, `${i}`);
    fs.symlinkSync(`../${id}/diff`, `${dir}/l/L${String(i).padStart(25, '0')}`);
    lower.push(`l/L${String(i).padStart(25, '0')}`);
  }
  for (const d of ['rw/diff', 'rw/work', 'rw/merged']) fs.mkdirSync(`${dir}/${d}`, { recursive: true });
  return lower.join(':');
}

const cases: Array<{ name: string; method: OverlayMethod; n: number }> = [
  { name: 'mount(2), absolute paths, 1 layer', method: 'absolute', n: 1 },
  { name: 'mount API, 1 layer', method: 'fsmount', n: 1 },
  { name: 'mount API, 128 layers', method: 'fsmount', n: 128 },
  { name: 'mount(2) in a child, 1 layer', method: 'legacy', n: 1 },
  { name: 'mount(2) in a child, 128 layers', method: 'legacy', n: 128 },
];
for (const c of cases) {
  test(`overlay mount (${c.name}): every layer is seen, the cwd is untouched`, () => {
    const dir = fs.mkdtempSync(`${t.root}/o-`);
    const spec = mountSpec(dir, 'rw', layers(dir, c.n), false, { volatile: true });
    const cwd = process.cwd();
    mountOverlay(spec, c.method);
    assert.equal(process.cwd(), cwd);
    try {
      for (let i = 0; i < c.n; i++) assert.equal(fs.readFileSync(`${spec.target}/f${i}`, 'utf8'), `${i}`);
      fs.writeFileSync(`${spec.target}/new`, 'x');
      assert.equal(fs.readFileSync(`${dir}/rw/diff/new`, 'utf8'), 'x');
    } finally {
      native.umount2(spec.target, 0);
    }
  });
}

test('relative paths: the target and the layers resolve against the unchanged cwd', () => {
  const dir = fs.mkdtempSync(`${t.root}/rel-`);
  const lower = layers(dir, 3);
  const cwd = process.cwd();
  process.chdir(t.root);
  try {
    const rel = dir.slice(t.root.length + 1);
    for (const method of ['absolute', 'fsmount', 'legacy'] as const) {
      const spec = mountSpec(rel, 'rw', lower, false);
      mountOverlay(spec, method);
      assert.equal(process.cwd(), t.root);
      assert.equal(fs.readFileSync(`${dir}/rw/merged/f2`, 'utf8'), '2', method);
      native.umount2(`${dir}/rw/merged`, 0);
    }
  } finally {
    process.chdir(cwd);
  }
});

test('layer paths longer than one page in all: the mount API takes them, mount(2) options would not fit', () => {
  const dir = fs.mkdtempSync(`${t.root}/long-${'d'.repeat(150)}-`);
  const n = 40;
  const spec = mountSpec(dir, 'rw', layers(dir, n), false);
  assert.ok(spec.absoluteOptions.length > 4096);
  mountOverlay(spec); // past one page: the mount API on this kernel, the relative options in a child before 6.8
  assert.equal(fs.readFileSync(`${spec.target}/f${n - 1}`, 'utf8'), `${n - 1}`);
  native.umount2(spec.target, 0);
});

test('a failed mount API step names the parameter and the path, with errno', () => {
  const dir = fs.mkdtempSync(`${t.root}/bad-`);
  const spec = mountSpec(dir, 'rw', `${layers(dir, 1)}:l/MISSING`, false);
  assert.throws(
    () => mountOverlay(spec, 'fsmount'),
    (e: unknown) =>
      native.isNativeError(e) &&
      e.code === 'ENOENT' &&
      e.path === `${dir}/l/MISSING` &&
      /^fsconfig lowerdir\+/.test(e.syscall),
  );
  assert.throws(
    () => mountOverlay(spec, 'legacy'),
    (e: unknown) => native.isNativeError(e) && e.syscall === 'mount',
  );
  assert.deepEqual(mountsUnder(dir), []);
  assert.throws(() => native.fsmount(`${dir}/rw/merged`, 'nosuchfs', []), /fsopen "nosuchfs": ENODEV/);
});
