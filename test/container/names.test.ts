import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADJECTIVES, NAME_TRIES, SURNAMES, randomName, uniqueName } from '../../src/container/names.js';

// Generated container names: many combinations, valid container names, never one already taken.
test('the word lists: 100+ adjectives and 200+ surnames, lower-case letters, no repeats', () => {
  assert.ok(ADJECTIVES.length >= 100 && SURNAMES.length >= 200);
  for (const list of [ADJECTIVES, SURNAMES]) {
    assert.equal(new Set(list).size, list.length);
    for (const w of list) assert.match(w, /^[a-z]+$/);
  }
});

test('random names are adjective_surname, with a digit after the first attempt', () => {
  for (let i = 0; i < 200; i++) {
    const [adj, sur] = randomName(0).split('_');
    assert.ok(ADJECTIVES.includes(adj!) && SURNAMES.includes(sur!));
    assert.match(randomName(1 + (i % 5)), /^[a-z]+_[a-z]+[0-9]$/);
  }
  const seen = new Set(Array.from({ length: 1000 }, () => randomName()));
  assert.ok(seen.size > 950, `${seen.size} different names in 1000`);
});

test('uniqueName never returns a taken name; when every try collides it is the short id', () => {
  const id = 'abcdef0123456789'.repeat(4);
  const cases: Array<{ name: string; taken: (n: string) => boolean; want: (n: string, asked: string[]) => void }> = [
    { name: 'nothing taken', taken: () => false, want: (n, asked) => assert.deepEqual(asked, [n]) },
    {
      name: 'every name without a digit, and those ending in 0, are taken',
      taken: (n) => !/\d$/.test(n) || n.endsWith('0'),
      want: (n) => assert.match(n, /^[a-z]+_[a-z]+[1-9]$/),
    },
    {
      name: 'everything taken',
      taken: () => true,
      want: (n, asked) => {
        assert.equal(n, 'abcdef012345');
        assert.equal(asked.length, NAME_TRIES);
      },
    },
  ];
  for (const c of cases) {
    for (let i = 0; i < 20; i++) {
      const asked: string[] = [];
      const n = uniqueName((x) => (asked.push(x), c.taken(x)), id);
      c.want(n, asked);
      if (n !== id.slice(0, 12)) assert.equal(c.taken(n), false, c.name);
    }
  }
});
