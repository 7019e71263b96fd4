import * as fs from 'node:fs';
import { hexOf } from '../core/digest.js';
import { readOptional, writeFileAtomic } from '../storage/fsutil.js';
import type { StorePaths } from '../storage/paths.js';

/**
 * dockerd's distribution metadata (image/overlay2/distribution/): which diffID a blob
 * digest decompresses to (diffid-by-digest/sha256/<blob hex>), and where each diffID
 * was seen as a blob (v2metadata-by-diffid/sha256/<diffID hex>: [{Digest,
 * SourceRepository, HMAC}], newest last, at most 50). A cache: berth and a dockerd on
 * the same store learn from each other's pulls (a push finds a blob to reuse).
 */
export interface V2Metadata {
  Digest: string;
  SourceRepository: string;
  HMAC: string;
}

const MAX_ENTRIES = 50;

/** Record that `blobDigest` (from `repository`, a full name) is the layer `diffID`. Caller holds the store lock. */
export function recordBlob(paths: StorePaths, blobDigest: string, diffID: string, repository: string): void {
  const byDigest = `${paths.distribution}/diffid-by-digest/sha256/${hexOf(blobDigest)}`;
  if (readOptional(byDigest) !== diffID) writeFileAtomic(byDigest, diffID, 0o644, false);
  const byDiff = `${paths.distribution}/v2metadata-by-diffid/sha256/${hexOf(diffID)}`;
  let list: V2Metadata[] = [];
  try {
    const j = JSON.parse(readOptional(byDiff) ?? '[]') as unknown;
    if (Array.isArray(j)) list = j.filter((e): e is V2Metadata => !!e && typeof e.Digest === 'string');
  } catch {
    /* a damaged cache entry is rewritten */
  }
  const kept = list.filter((e) => !(e.Digest === blobDigest && e.SourceRepository === repository));
  kept.push({ Digest: blobDigest, SourceRepository: repository, HMAC: '' });
  const text = JSON.stringify(kept.slice(-MAX_ENTRIES));
  if (text !== JSON.stringify(list)) {
    fs.mkdirSync(`${paths.distribution}/v2metadata-by-diffid/sha256`, { recursive: true, mode: 0o700 });
    writeFileAtomic(byDiff, text, 0o644, false);
  }
}
