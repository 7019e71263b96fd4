/**
 * .dockerignore parsing and matching, with the tables of moby 20.10's pkg/fileutils tests
 * (TestMatches and the single-case tests around it) and Go's filepath.Match / path.Clean.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IgnoreMatcher, parseDockerignore } from '../../src/builder/context/dockerignore.js';
import { BadPattern, goClean, goMatch } from '../../src/builder/context/gopath.js';

// moby v20.10.24 pkg/fileutils/fileutils_test.go TestMatches
const MATCHES: Array<[string, string, boolean]> = [
  ['**', 'file', true],
  ['**', 'file/', true],
  ['**/', 'file', true],
  ['**/', 'file/', true],
  ['**', '/', true],
  ['**/', '/', true],
  ['**', 'dir/file', true],
  ['**/', 'dir/file', true],
  ['**', 'dir/file/', true],
  ['**/', 'dir/file/', true],
  ['**/**', 'dir/file', true],
  ['**/**', 'dir/file/', true],
  ['dir/**', 'dir/file', true],
  ['dir/**', 'dir/file/', true],
  ['dir/**', 'dir/dir2/file', true],
  ['dir/**', 'dir/dir2/file/', true],
  ['**/dir2/*', 'dir/dir2/file', true],
  ['**/dir2/*', 'dir/dir2/file/', true],
  ['**/dir2/**', 'dir/dir2/dir3/file', true],
  ['**/dir2/**', 'dir/dir2/dir3/file/', true],
  ['**file', 'file', true],
  ['**file', 'dir/file', true],
  ['**/file', 'dir/file', true],
  ['**file', 'dir/dir/file', true],
  ['**/file', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file', true],
  ['**/file*', 'dir/dir/file.txt', true],
  ['**/file*txt', 'dir/dir/file.txt', true],
  ['**/file*.txt', 'dir/dir/file.txt', true],
  ['**/file*.txt*', 'dir/dir/file.txt', true],
  ['**/**/*.txt', 'dir/dir/file.txt', true],
  ['**/**/*.txt2', 'dir/dir/file.txt', false],
  ['**/*.txt', 'file.txt', true],
  ['**/**/*.txt', 'file.txt', true],
  ['a**/*.txt', 'a/file.txt', true],
  ['a**/*.txt', 'a/dir/file.txt', true],
  ['a**/*.txt', 'a/dir/dir/file.txt', true],
  ['a/*.txt', 'a/dir/file.txt', false],
  ['a/*.txt', 'a/file.txt', true],
  ['a/*.txt**', 'a/file.txt', true],
  ['a[b-d]e', 'ae', false],
  ['a[b-d]e', 'ace', true],
  ['a[b-d]e', 'aae', false],
  ['a[^b-d]e', 'aze', true],
  ['.*', '.foo', true],
  ['.*', 'foo', false],
  ['abc.def', 'abcdef', false],
  ['abc.def', 'abc.def', true],
  ['abc.def', 'abcZdef', false],
  ['abc?def', 'abcZdef', true],
  ['abc?def', 'abcdef', false],
  ['a\\\\', 'a\\', true],
  ['**/foo/bar', 'foo/bar', true],
  ['**/foo/bar', 'dir/foo/bar', true],
  ['**/foo/bar', 'dir/dir2/foo/bar', true],
  ['abc/**', 'abc', false],
  ['abc/**', 'abc/def', true],
  ['abc/**', 'abc/def/ghi', true],
  ['**/.foo', '.foo', true],
  ['**/.foo', 'bar.foo', false],
  ['a\\*b', 'a*b', true],
];

test('moby TestMatches table', () => {
  for (const [pattern, text, pass] of MATCHES) {
    // pm.Matches gets the text as is (TestMatches does not clean it); excludes() cleans, which only drops a trailing
    // "/"
    assert.equal(
      new IgnoreMatcher([pattern]).excludes(text),
      pass,
      `pattern=${JSON.stringify(pattern)} text=${JSON.stringify(text)}`,
    );
  }
});

test('moby single cases: exclusions, order, parents, the root, errors', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['fileutils.go', ['*'], true],
    ['fileutils.go', ['*.go'], true],
    ['fileutils.go', ['!fileutils.go', '*.go'], true],
    ['docs/README.md', ['docs', '!docs/README.md'], false],
    ['docs/README.md', ['docs/', '!docs/README.md'], false],
    ['docs/README.md', ['docs/*', '!docs/README.md'], false],
    ['fileutils.go', ['*.go', '!fileutils.go'], false],
    ['.', ['*.go'], false],
    ['fileutils.go', [], false],
    ['dir/a/b/c', ['dir'], true],
    ['dir/a/b/c', ['dir/a'], true],
    ['dir/a/b/c', ['a'], false],
    ['dir/a/b/c', ['*/a'], true],
    ['x/node_modules/y', ['**/node_modules'], true],
  ];
  for (const [file, patterns, want] of cases)
    assert.equal(new IgnoreMatcher(patterns).excludes(file), want, `${file} ${JSON.stringify(patterns)}`);
  assert.throws(() => new IgnoreMatcher(['!']), /illegal exclusion pattern: "!"/);
  assert.throws(
    () => new IgnoreMatcher(['[']),
    (e: Error & { code?: string }) => e.code === 'dockerignore_pattern',
  );
  assert.deepEqual(new IgnoreMatcher(['docs', 'config', '']).patterns, ['docs', 'config']);
});

test('parseDockerignore: comments, blanks, BOM, CRLF, cleaning, leading slash, exceptions', () => {
  const text = '\uFEFF# comment\n\n  *.md  \r\n/abs/../x//y/\n!  /keep.md\n !not-an-exception\n#!x\n./a/./b\n/\n';
  assert.deepEqual(parseDockerignore(text), ['*.md', 'x/y', '!keep.md', '!not-an-exception', 'a/b', '/']);
});

test("hasExceptions and mayIncludeBelow: the client's literal prefix rule", () => {
  const m = new IgnoreMatcher(['a', '!a/keep', 'b', '!**/wanted', 'c/d']);
  assert.equal(m.hasExceptions, true);
  const rows: Array<[string, boolean]> = [
    ['a', true],
    ['b', false],
    ['c', true],
    ['c/d', false],
    ['other', true],
    ['a/x', false],
  ];
  for (const [dir, want] of rows) assert.equal(m.mayIncludeBelow(dir), want, dir);
  assert.equal(new IgnoreMatcher(['a']).mayIncludeBelow('a'), false);
  assert.equal(m.excludes('a/keep'), false);
  assert.equal(m.excludes('a/keep/deeper'), false);
  assert.equal(m.excludes('a/other'), true);
});

test('goMatch is Go filepath.Match', () => {
  // Go's path/filepath match_test.go (a selection)
  const rows: Array<[string, string, boolean | 'bad']> = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['a[^a][^a][^a]b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[\\-x]', '-', true],
    ['[\\-x]', 'a', false],
    ['[]a]', ']', 'bad'],
    ['[-]', '-', 'bad'],
    ['[x-]', 'x', 'bad'],
    ['[x-]', '-', 'bad'],
    ['[x-]', 'z', 'bad'],
    ['[-x]', 'x', 'bad'],
    ['[-x]', '-', 'bad'],
    ['[-x]', 'a', 'bad'],
    ['\\', 'a', 'bad'],
    ['[a-b-c]', 'a', 'bad'],
    ['[', 'a', 'bad'],
    ['[^', 'a', 'bad'],
    ['[^bc', 'a', 'bad'],
    ['a[', 'a', 'bad'],
    ['a[', 'ab', 'bad'],
    ['a[', 'x', 'bad'],
    ['a/b[', 'x', 'bad'],
    ['*x', 'xxx', true],
  ];
  for (const [pattern, s, want] of rows) {
    if (want === 'bad') assert.throws(() => goMatch(pattern, s), BadPattern, `${pattern} ${s}`);
    else assert.equal(goMatch(pattern, s), want, `${pattern} ${s}`);
  }
});

test('goClean is Go path.Clean', () => {
  const rows: Array<[string, string]> = [
    ['', '.'],
    ['abc', 'abc'],
    ['abc/def', 'abc/def'],
    ['.', '.'],
    ['..', '..'],
    ['../..', '../..'],
    ['../../abc', '../../abc'],
    ['/abc', '/abc'],
    ['/', '/'],
    ['abc/', 'abc'],
    ['abc/def/', 'abc/def'],
    ['/abc/', '/abc'],
    ['abc//def//ghi', 'abc/def/ghi'],
    ['//abc', '/abc'],
    ['abc/./def', 'abc/def'],
    ['/./abc/def', '/abc/def'],
    ['abc/.', 'abc'],
    ['abc/def/ghi/../jkl', 'abc/def/jkl'],
    ['abc/def/../ghi/../jkl', 'abc/jkl'],
    ['abc/def/..', 'abc'],
    ['abc/def/../..', '.'],
    ['/abc/def/../..', '/'],
    ['abc/def/../../..', '..'],
    ['/abc/def/../../..', '/'],
    ['abc/def/../../../ghi/jkl/../../../mno', '../../mno'],
    ['/../abc', '/abc'],
  ];
  for (const [p, want] of rows) assert.equal(goClean(p), want, p);
});
