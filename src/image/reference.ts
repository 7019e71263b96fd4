import { invalid } from '../core/errors.js';

/**
 * Docker image references: [domain[:port]/]path[:tag][@sha256:hex], normalized as
 * docker/distribution does (docker.io/library/ implied), and printed in the
 * "familiar" form Docker shows and stores in repositories.json ("busybox", not
 * "docker.io/library/busybox").
 */
export interface Reference {
  /** Full name: "docker.io/library/busybox", "localhost:5000/app". */
  name: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const IMAGE_ID_HEX = /^[a-f0-9]{64}$/;
export const DEFAULT_DOMAIN = 'docker.io';
/** Docker's old name for its registry; distribution/reference normalizes it to docker.io. */
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

/** Parse and normalize a reference. `tag` is left undefined when absent (see withDefaultTag). */
export function parseReference(s: string): Reference {
  const bad = (why: string) => invalid('invalid_reference', `invalid reference format: ${JSON.stringify(s)}: ${why}`);
  if (!s || s.length > 4096) throw bad('empty or too long');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('invalid digest');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('invalid tag');
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0]!;
  // as Docker's splitDockerDomain: a first component with a dot, a colon, an upper-case letter or
  // "localhost" is a registry host ("Upper/name" is the repository "name" on the host "Upper")
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  ) {
    if (!DOMAIN.test(first)) throw bad('invalid domain');
    domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    if (parts.some((p) => /[A-Z]/.test(p)))
      throw invalid('invalid_reference', `invalid reference format: repository name (${rest}) must be lowercase`);
    throw bad('invalid repository name');
  }
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  const name = `${domain}/${parts.join('/')}`;
  if (name.length > 255) throw bad('repository name too long');
  // `berth run <id>` and `berth run <name>` must never mean two images: a repository
  // that reads as a full image ID (or as the digest algorithm) is refused, with or without a tag
  const familiar = familiarName(name);
  if (IMAGE_ID_HEX.test(familiar))
    throw invalid('invalid_reference', `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  if (familiar === 'sha256')
    throw invalid(
      'invalid_reference',
      `invalid reference format: ${JSON.stringify(s)}: refusing to create an ambiguous tag using digest algorithm as name`,
    );
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `busybox` -> `busybox:latest` (a reference with neither tag nor digest gets "latest"). */
export function withDefaultTag(r: Reference): Reference {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: 'latest' } : r;
}

/** "docker.io/library/busybox" -> "busybox"; "docker.io/me/app" -> "me/app". */
export function familiarName(name: string): string {
  if (name.startsWith('docker.io/library/') && name.indexOf('/', 18) < 0) return name.slice(18);
  if (name.startsWith('docker.io/')) return name.slice(10);
  return name;
}

/** The familiar string of a reference: "busybox:latest", "me/app@sha256:...". */
export function familiarString(r: Reference): string {
  let s = familiarName(r.name);
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}
