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
  [
    `app@sha256:${'a'.repeat(64)}`,
    'docker.io/library/app',
    undefined,
    `sha256:${'a'.repeat(64)}`,
    `app@sha256:${'a'.repeat(64)}`,
  ],
  ['a_b.c-d__e:T.1-x', 'docker.io/library/a_b.c-d__e', 'T.1-x', undefined, 'a_b.c-d__e:T.1-x'],
  // distribution/reference's splitDockerDomain: a first component with an upper-case letter is a host
  ['Upper/name:1', 'Upper/name', '1', undefined, 'Upper/name:1'],
  ['Reg.Example.com:5000/a/b', 'Reg.Example.com:5000/a/b', undefined, undefined, 'Reg.Example.com:5000/a/b:latest'],
  // index.docker.io is Docker's old name for docker.io
  ['index.docker.io/library/busybox:1', 'docker.io/library/busybox', '1', undefined, 'busybox:1'],
  ['index.docker.io/me/app', 'docker.io/me/app', undefined, undefined, 'me/app:latest'],
  // a 64-hex path under a namespace or a registry is not ambiguous with an image ID
  [`me/${'a'.repeat(64)}`, `docker.io/me/${'a'.repeat(64)}`, undefined, undefined, `me/${'a'.repeat(64)}:latest`],
  [
    `localhost:5000/${'b'.repeat(64)}:1`,
    `localhost:5000/${'b'.repeat(64)}`,
    '1',
    undefined,
    `localhost:5000/${'b'.repeat(64)}:1`,
  ],
  ['a'.repeat(63), `docker.io/library/${'a'.repeat(63)}`, undefined, undefined, `${'a'.repeat(63)}:latest`],
  ['sha256x:1', 'docker.io/library/sha256x', '1', undefined, 'sha256x:1'],
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

// what Docker refuses and why, by the message's distinctive part
const refused: Array<[string, RegExp]> = [
  ['Upper', /repository name \(Upper\) must be lowercase/],
  ['UPPER:1', /repository name \(UPPER\) must be lowercase/],
  ['me/App:1', /repository name \(me\/App\) must be lowercase/],
  ['localhost:5000/UP', /must be lowercase/],
  ['Upper/Name', /must be lowercase/],
  ['a'.repeat(64), /invalid repository name \(a{64}\), cannot specify 64-byte hexadecimal strings/],
  [`${'a'.repeat(64)}:v1`, /cannot specify 64-byte hexadecimal strings/],
  [`library/${'c'.repeat(64)}`, /cannot specify 64-byte hexadecimal strings/],
  [`docker.io/library/${'d'.repeat(64)}:x`, /cannot specify 64-byte hexadecimal strings/],
  [`index.docker.io/${'e'.repeat(64)}`, /cannot specify 64-byte hexadecimal strings/],
  [`sha256:${'f'.repeat(64)}`, /ambiguous tag using digest algorithm as name/],
  ['sha256', /ambiguous tag using digest algorithm as name/],
];
for (const [input, re] of refused) {
  test(`parseReference refuses ${JSON.stringify(input)} as Docker does`, () => {
    assert.throws(
      () => parseReference(input),
      (err: Error & { kind?: string; code?: string }) => {
        assert.match(err.message, re);
        assert.equal(err.kind, 'InvalidArgument');
        assert.equal(err.code, 'invalid_reference');
        return true;
      },
    );
  });
}

for (const bad of [
  '',
  'Busybox',
  'a:b:c',
  'a/',
  '/a',
  'a//b',
  'a:',
  `a@sha256:${'a'.repeat(10)}`,
  'a:-x',
  'a b',
  `a:${'x'.repeat(129)}`,
  '-a',
  'a..b',
]) {
  test(`parseReference rejects ${JSON.stringify(bad)}`, () => {
    assert.throws(() => parseReference(bad), /invalid reference format/);
  });
}
