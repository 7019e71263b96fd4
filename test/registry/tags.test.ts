/** The tag list's pagination (Link: <...>; rel="next"), pure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextPage } from '../../src/registry/tags.js';

test('nextPage: the next page on the registry, from a path or a URL on its host', () => {
  const h = '127.0.0.1:5000';
  assert.equal(nextPage(undefined, h), undefined);
  assert.equal(nextPage('', h), undefined);
  assert.equal(nextPage('</v2/app/tags/list?n=2&last=b>; rel="next"', h), '/v2/app/tags/list?n=2&last=b');
  assert.equal(nextPage('<http://127.0.0.1:5000/v2/app/tags/list?last=c>; rel=next', h), '/v2/app/tags/list?last=c');
  assert.equal(
    nextPage('</v2/app/tags/list?last=a>; rel="prev", </v2/app/tags/list?last=z>; rel="next"', h),
    '/v2/app/tags/list?last=z',
  );
  assert.equal(nextPage('</v2/app/tags/list?last=a>; rel="prev"', h), undefined);
  assert.throws(() => nextPage('<http://elsewhere.example/v2/x/tags/list>; rel="next"', h), /not on the registry/);
  assert.throws(() => nextPage('</other/path>; rel="next"', h), /not on the registry/);
});
