import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarString, parseReference, withDefaultTag } from '../../src/image/reference.js';

const cases: Array<[string, string, string | undefined, string | undefined, string]> = [
  // input, name, tag, digest, familiar string (with default tag)
  ['busybox', 'docker.io/library/busybox', undefined, undefined, 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox', '1.36', undefined, 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox', undefined, undefined, 'busybox:latest'],
  ['docker.io/library/busybox:x', 'docker.io/library/busybox', 'x', undefined, 'busybox:x'],
  ['me/app', 'docker.io/me/app', undefined, undefined, 'me/app:latest'],
  ['localhost:5000/app:v1', 'localhost:5000/app', 'v1', undefined, 'localhost:5000/app:v1'],
  ['localhost/app', 'localhost/app', undefined, undefined, 'localhost/app:latest'],
  ['quay.io/a/b/c:t', 'quay.io/a/b/c', 't', undefined, 'quay.io/a/b/c:t'],
  [`app@sha256:${'a'.repeat(64)}`, 'docker.io/library/app', undefined, `sha256:${'a'.repeat(64)}`, `app@sha256:${'a'.repeat(64)}`],
  ['a_b.c-d__e:T.1-x', 'docker.io/library/a_b.c-d__e', 'T.1-x', undefined, 'a_b.c-d__e:T.1-x'],
];

for (const [input, name, tag, digest, fam] of cases) {
  test(`parseReference(${JSON.stringify(input)})`, () => {
    const r = parseReference(input);
    assert.equal(r.name, name);
    assert.equal(r.tag, tag);
    assert.equal(r.digest, digest);
    assert.equal(familiarString(withDefaultTag(r)), fam);
  });
}

for (const bad of ['', 'Busybox', 'a:b:c', 'a/', '/a', 'a//b', 'a:', `a@sha256:${'a'.repeat(10)}`, 'a:-x', 'a b', `a:${'x'.repeat(129)}`, '-a', 'a..b']) {
  test(`parseReference rejects ${JSON.stringify(bad)}`, () => {
    assert.throws(() => parseReference(bad), /invalid reference format/);
  });
}
