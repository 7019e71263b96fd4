/**
 * The comparison behind the differential build tests (test/interop/build-diff.test.ts): what of a
 * built image must be the same whether `docker build` (legacy builder, dockerd 20.10) or
 * `berth build` made it. Pure: facts in, difference messages out (empty = the same).
 *
 * Compared: the config fields a Dockerfile sets, the author (MAINTAINER), the history
 * (created_by, empty_layer, how many entries), the number of diff_ids, and per layer the sorted
 * entries of its tar (path, type, mode, uid, gid, size, content sha256, link target, device
 * numbers, xattrs). Not compared: timestamps (created, mtime/atime/ctime), image and layer IDs
 * (they hash timestamps), the config's Image/Hostname/Domainname/container fields, and tar
 * uname/gname: dockerd fills them from its host's /etc/passwd and /etc/group (Go's
 * tar.FileInfoHeader looks uid/gid up on the daemon's host), so they say nothing about the image.
 */

/** The image config fields a Dockerfile instruction can set. */
export const CONFIG_FIELDS = [
  'Env',
  'Cmd',
  'Entrypoint',
  'WorkingDir',
  'User',
  'ExposedPorts',
  'Volumes',
  'Labels',
  'StopSignal',
  'Healthcheck',
  'Shell',
  'OnBuild',
  'ArgsEscaped',
] as const;

export interface HistoryEntry {
  created_by: string;
  empty_layer: boolean;
}

/** One entry of a layer tar, timestamps and owner names left out. */
export interface LayerEntry {
  /** Cleaned: no leading "./" or "/", no trailing "/". */
  path: string;
  type: string;
  /** Permission and special bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** sha256 of the body (regular files only). */
  sha256?: string;
  /** Symlink target or hardlink target. */
  link?: string;
  /** "major,minor" for char/block devices. */
  dev?: string;
  /** xattr name -> sha256 of the value. */
  xattrs?: Record<string, string>;
}

export interface ImageFacts {
  /** The image config's `config` object (as saved). */
  config: Record<string, unknown>;
  author?: string;
  history: HistoryEntry[];
  diffIDs: string[];
  /** The entries of each layer tar, in rootfs order. */
  layers: LayerEntry[][];
}

/** At most this many differing entries are reported per layer. */
export const MAX_ENTRY_DIFFS = 25;

const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));

/** JSON with sorted object keys, so maps compare by content. */
export function canonical(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

/**
 * A config field as it reads: absent and null are the same (Go's omitempty); an empty map or list
 * is not null (`docker inspect` shows the difference).
 */
function field(config: Record<string, unknown>, name: string): unknown {
  const v = config[name];
  return v === undefined ? null : v;
}

const describeEntry = (e: LayerEntry) => {
  const parts = [e.type, `mode=${e.mode.toString(8).padStart(4, '0')}`, `${e.uid}:${e.gid}`, `size=${e.size}`];
  if (e.sha256) parts.push(`sha256=${e.sha256.slice(0, 12)}`);
  if (e.link !== undefined) parts.push(`-> ${e.link}`);
  if (e.dev) parts.push(`dev=${e.dev}`);
  if (e.xattrs && Object.keys(e.xattrs).length) parts.push(`xattrs=${Object.keys(e.xattrs).sort().join(',')}`);
  return parts.join(' ');
};

/** Differences between two layers' entries, as messages (path first). */
export function compareLayer(docker: LayerEntry[], berth: LayerEntry[]): string[] {
  const out: string[] = [];
  const d = new Map(docker.map((e) => [e.path, e]));
  const b = new Map(berth.map((e) => [e.path, e]));
  const paths = [...new Set([...d.keys(), ...b.keys()])].sort();
  for (const p of paths) {
    const de = d.get(p),
      be = b.get(p);
    if (!be) {
      out.push(`"${p}" only in docker's layer (${describeEntry(de!)})`);
      continue;
    }
    if (!de) {
      out.push(`"${p}" only in berth's layer (${describeEntry(be)})`);
      continue;
    }
    for (const k of ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'link', 'dev', 'xattrs'] as const) {
      const dv = de[k],
        bv = be[k];
      if (canonical(dv) === canonical(bv)) continue;
      const fmt = (v: unknown) => (k === 'mode' && typeof v === 'number' ? v.toString(8).padStart(4, '0') : show(v));
      out.push(`"${p}" ${k}: docker ${fmt(dv)}, berth ${fmt(bv)}`);
    }
  }
  if (out.length > MAX_ENTRY_DIFFS)
    return [...out.slice(0, MAX_ENTRY_DIFFS), `... and ${out.length - MAX_ENTRY_DIFFS} more`];
  return out;
}

/** Every difference between the image docker built and the one berth built, prefixed with the case. */
export function compareImages(caseName: string, docker: ImageFacts, berth: ImageFacts): string[] {
  const out: string[] = [];
  const say = (what: string, msg: string) => out.push(`case "${caseName}": ${what}: ${msg}`);

  for (const f of CONFIG_FIELDS) {
    const dv = field(docker.config, f),
      bv = field(berth.config, f);
    if (canonical(dv) !== canonical(bv)) say(`config.${f}`, `docker ${show(dv)}, berth ${show(bv)}`);
  }
  if ((docker.author ?? '') !== (berth.author ?? ''))
    say('author', `docker ${show(docker.author)}, berth ${show(berth.author)}`);

  if (docker.history.length !== berth.history.length) {
    say(
      'history length',
      `docker ${docker.history.length}, berth ${berth.history.length}` +
        `\n  docker: ${docker.history.map((h) => h.created_by).join('\n          ')}` +
        `\n  berth:  ${berth.history.map((h) => h.created_by).join('\n          ')}`,
    );
  }
  const n = Math.min(docker.history.length, berth.history.length);
  for (let i = 0; i < n; i++) {
    const dh = docker.history[i]!,
      bh = berth.history[i]!;
    if (dh.created_by !== bh.created_by)
      say(`history[${i}].created_by`, `docker ${show(dh.created_by)}, berth ${show(bh.created_by)}`);
    if (dh.empty_layer !== bh.empty_layer)
      say(`history[${i}].empty_layer (${dh.created_by})`, `docker ${dh.empty_layer}, berth ${bh.empty_layer}`);
  }

  if (docker.diffIDs.length !== berth.diffIDs.length)
    say('rootfs.diff_ids count', `docker ${docker.diffIDs.length}, berth ${berth.diffIDs.length}`);
  // which history entry made each layer (for messages): the non-empty ones, in order
  const makers = docker.history.filter((h) => !h.empty_layer).map((h) => h.created_by);
  const layers = Math.min(docker.layers.length, berth.layers.length);
  for (let i = 0; i < layers; i++) {
    const diffs = compareLayer(docker.layers[i]!, berth.layers[i]!);
    if (!diffs.length) continue;
    const by = makers[i] ? ` (${makers[i]!.slice(0, 80)})` : '';
    say(`layer ${i}${by}`, `\n  ${diffs.join('\n  ')}`);
  }
  return out;
}

/** A history entry as compared: empty_layer absent means false. */
export function historyEntry(h: { created_by?: string; empty_layer?: boolean }): HistoryEntry {
  return { created_by: h.created_by ?? '', empty_layer: h.empty_layer === true };
}

/** "./etc/x/" -> "etc/x"; "/" and "./" -> "." */
export function cleanPath(name: string): string {
  const p = name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  return p === '' || p === '.' ? '.' : p;
}
