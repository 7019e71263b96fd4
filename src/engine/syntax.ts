/**
 * Docker's syntax for values a client turns into what the API takes: the
 * docker CLI parses these before its request (a signal name, a byte size, a
 * relative time, "repo:tag"), so berth's CLI and other callers share the
 * engine's parsers rather than keep their own.
 */
import { invalid } from '../core/errors.js';
import { parseReference } from '../image/reference.js';

export { parseSignal } from '../container/lifecycle.js';
export { parseReference } from '../image/reference.js';
export { parseLogTime } from '../container/logs.js';
export { parseBytes, parseCpus, parseMemorySwap } from '../runtime/cgroups/cgroups.js';

/** "name[:tag]" as the API's commit (repo, tag) takes it; a digest is refused, as `docker commit` refuses it. */
export function splitRepoTag(ref: string): { repo: string; tag?: string } {
  const r = parseReference(ref);
  if (r.digest) throw invalid('invalid_reference', `commit: refusing to create a tag with a digest reference`);
  return { repo: r.name, ...(r.tag ? { tag: r.tag } : {}) };
}
