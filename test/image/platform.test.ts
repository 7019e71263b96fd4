import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Platform,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  platformRank,
} from '../../src/image/platform.js';

const p = (s: string): Platform => {
  const [os, architecture, variant] = s.split('/');
  return { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) };
};
const host = (s: string) => normalizePlatform(p(s));

// [host, candidate, rank]: containerd's platforms.Only(host) as Docker 25+ uses it (-1: not run)
const cases: Array<[string, string, number]> = [
  ['linux/amd64', 'linux/amd64', 0],
  ['linux/amd64', 'linux/x86_64', 0],
  ['linux/amd64', 'linux/amd64/v1', 0],
  ['linux/amd64', 'linux/amd64/v2', -1],
  ['linux/amd64', 'linux/386', 1],
  ['linux/amd64', 'linux/i386', 1],
  ['linux/amd64', 'linux/arm64', -1],
  ['linux/amd64', 'windows/amd64', -1],
  ['linux/amd64', 'Linux/AMD64', 0],
  ['linux/amd64/v3', 'linux/amd64/v3', 0],
  ['linux/amd64/v3', 'linux/amd64/v2', 1],
  ['linux/amd64/v3', 'linux/amd64', 2],
  ['linux/amd64/v3', 'linux/386', 3],
  ['linux/amd64/v3', 'linux/amd64/v4', -1],
  ['linux/arm64', 'linux/arm64', 0],
  ['linux/arm64', 'linux/aarch64/v8', 0],
  ['linux/arm64', 'linux/arm/v8', 1],
  ['linux/arm64', 'linux/arm/v7', 2],
  ['linux/arm64', 'linux/armhf', 2],
  ['linux/arm64', 'linux/arm/v5', 4],
  ['linux/arm64', 'linux/amd64', -1],
  ['linux/arm/v7', 'linux/arm', 0],
  ['linux/arm/v7', 'linux/armel', 1],
  ['linux/arm/v6', 'linux/arm/v7', -1],
  ['linux/s390x', 'linux/s390x', 0],
  ['linux/s390x', 'unknown/unknown', -1],
];

for (const [h, c, rank] of cases) {
  test(`platformRank(${c}) on ${h} is ${rank}`, () => {
    assert.equal(platformRank(p(c), host(h)), rank);
  });
}

test('the host platform is linux on the architecture Node runs on, with a variant Docker would detect', () => {
  const h = hostPlatform();
  assert.equal(h.os, 'linux');
  assert.equal(platformRank(h), 0);
  if (h.architecture === 'amd64') assert.match(h.variant, /^(|v[234])$/);
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
});
