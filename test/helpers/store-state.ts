/**
 * What a data root holds, read directly from disk (plus `berth images`), in a
 * form two stores can be compared by: layers by chainID, overlay2 dirs and l/
 * links by the layer they belong to (cache-ids and link names are random per
 * store), and the staging areas that must be empty when no operation runs.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { berth } from './berth.js';

export interface StoreSnapshot {
  /** `berth images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'`, sorted. */
  images: string[];
  /** imagedb/content/sha256 and imagedb/metadata/sha256 entries. */
  imagedb: string[];
  /** repositories.json, keys sorted (or "<invalid: ...>"). */
  refs: string;
  /** layerdb/sha256 entries (chainIDs). */
  layers: string[];
  /** overlay2 entries as "layer:<chainID>" when a layer's cache-id, else "stray:<name>" (l/ excluded). */
  overlay: string[];
  /** l/ entries as "link:<chainID>" when the link of that layer's dir, else "stray-link:<name> -> <target>". */
  links: string[];
  /**
   * Staging areas that must be empty at rest: layerdb/tmp, berth/tmp, berth/txn, berth/locks/layer-*, .tmp-* files
   * of atomic writes (imagedb, repositories.json).
   */
  staging: string[];
  /** Raw names (cache-ids, link names): equal only for the very same store state. */
  rawOverlay: string[];
  rawLinks: string[];
}

const ls = (p: string): string[] => {
  try {
    return fs.readdirSync(p).sort();
  } catch {
    return [];
  }
};
const read = (p: string): string | undefined => {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** Read the store state. Runs `berth images`, so it also recovers dead journals (as any command would). */
export function snapshot(root: string, opts: { withImagesCommand?: boolean } = {}): StoreSnapshot {
  const img = `${root}/image/overlay2`;
  const layerdb = `${img}/layerdb/sha256`;
  const overlay = `${root}/overlay2`;
  const layers = ls(layerdb);
  const byCache = new Map<string, string>();
  for (const c of layers) {
    const id = read(`${layerdb}/${c}/cache-id`);
    if (id) byCache.set(id, c);
  }
  const overlayNorm = ls(overlay)
    .filter((n) => n !== 'l')
    .map((n) => (byCache.has(n) ? `layer:${byCache.get(n)}` : `stray:${n}`))
    .sort();
  const links = ls(`${overlay}/l`)
    .map((n) => {
      let target = '';
      try {
        target = fs.readlinkSync(`${overlay}/l/${n}`);
      } catch {
        /* not a link */
      }
      const m = /^\.\.\/([a-f0-9]{64})\/diff$/.exec(target);
      const chain = m ? byCache.get(m[1]!) : undefined;
      if (chain && read(`${overlay}/${m![1]}/link`) === n) return `link:${chain}`;
      return `stray-link:${n} -> ${target}`;
    })
    .sort();
  let refs: string;
  const rtext = read(`${img}/repositories.json`);
  if (rtext === undefined) refs = '<none>';
  else {
    try {
      refs = JSON.stringify(sortKeys(JSON.parse(rtext)));
    } catch (err) {
      refs = `<invalid: ${(err as Error).message}>`;
    }
  }
  const content = ls(`${img}/imagedb/content/sha256`);
  const staging = [
    ...ls(`${img}/layerdb/tmp`).map((n) => `layerdb/tmp/${n}`),
    ...ls(`${root}/berth/tmp`).map((n) => `berth/tmp/${n}`),
    ...ls(`${root}/berth/txn`).map((n) => `berth/txn/${n}`),
    // a load's per-layer locks go when it ends, or with the recovery of a killed one
    ...ls(`${root}/berth/locks`)
      .filter((n) => n.startsWith('layer-'))
      .map((n) => `berth/locks/${n}`),
    ...content.filter((n) => n.startsWith('.tmp-')).map((n) => `imagedb/content/sha256/${n}`),
    ...ls(img)
      .filter((n) => n.startsWith('.tmp-'))
      .map((n) => `image/overlay2/${n}`),
    ...ls(`${img}/imagedb/metadata/sha256`).flatMap((id) =>
      ls(`${img}/imagedb/metadata/sha256/${id}`)
        .filter((n) => n.startsWith('.tmp-'))
        .map((n) => `imagedb/metadata/sha256/${id}/${n}`),
    ),
  ];
  let images: string[] = [];
  if (opts.withImagesCommand !== false) {
    const r = berth(root, ['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
    images =
      r.code === 0 ? r.stdout.split('\n').filter(Boolean).sort() : [`<images failed ${r.code}: ${r.stderr.trim()}>`];
  }
  return {
    images,
    imagedb: [
      ...content.filter((n) => !n.startsWith('.tmp-')).map((n) => `content/${n}`),
      ...ls(`${img}/imagedb/metadata/sha256`).map((n) => `metadata/${n}`),
    ].sort(),
    refs,
    layers,
    overlay: overlayNorm,
    links,
    staging,
    rawOverlay: ls(overlay).filter((n) => n !== 'l'),
    rawLinks: ls(`${overlay}/l`),
  };
}

/** Replace image ids not in `known` (hex) by "<new>" (for commands whose image id has a timestamp in it). */
export function maskNewImages(s: StoreSnapshot, known: Set<string>): StoreSnapshot {
  const mask = (t: string) => t.replace(/[a-f0-9]{64}/g, (hex) => (known.has(hex) ? hex : '<new>'));
  return { ...s, images: s.images.map(mask).sort(), imagedb: s.imagedb.map(mask).sort(), refs: mask(s.refs) };
}

export function imageHexes(s: StoreSnapshot): Set<string> {
  return new Set(s.imagedb.map((n) => n.replace(/^(content|metadata)\//, '')));
}

/** Differences between two snapshots ("field: only in a [..], only in b [..]"); raw names compared with `raw`. */
export function diffSnapshots(a: StoreSnapshot, b: StoreSnapshot, raw: boolean): string[] {
  const out: string[] = [];
  const keys: Array<keyof StoreSnapshot> = [
    'images',
    'imagedb',
    'refs',
    'layers',
    'overlay',
    'links',
    'staging',
    ...(raw ? (['rawOverlay', 'rawLinks'] as const) : []),
  ];
  for (const k of keys) {
    const x = a[k],
      y = b[k];
    if (typeof x === 'string' || typeof y === 'string') {
      if (x !== y) out.push(`${k}: ${String(x)} != ${String(y)}`);
      continue;
    }
    const onlyA = x.filter((v) => !y.includes(v)),
      onlyB = y.filter((v) => !x.includes(v));
    if (onlyA.length || onlyB.length || x.length !== y.length)
      out.push(`${k}: only in store [${onlyA.join(', ')}], only in expected [${onlyB.join(', ')}]`);
  }
  return out;
}

/** Copy a data root (a prepared "before" store) to a new directory. */
export function copyRoot(from: string, to: string): void {
  const r = spawnSync('cp', ['-a', '--reflink=auto', `${from}/.`, `${to}/`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
}

/** A summary of journals present in a root: "load-12-ab: layer-dir×5 tmp×3 layer×2". */
export function journalSummary(root: string): string[] {
  const dir = `${root}/berth/txn`;
  return ls(dir).map((n) => {
    const text = read(`${dir}/${n}`) ?? '';
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      let op = '<torn>';
      try {
        op = (JSON.parse(line) as { op: string }).op;
      } catch {
        /* torn */
      }
      counts.set(op, (counts.get(op) ?? 0) + 1);
    }
    return `${n}: ${[...counts].map(([op, c]) => `${op}×${c}`).join(' ') || '(empty)'}`;
  });
}

/**
 * Run `berth system check` (full unless quick) and return [ok, output]: ok = exit 0, "ok" line, no problem/leftover
 * lines.
 */
export function checkClean(root: string, quick = false): { ok: boolean; output: string } {
  const r = berth(root, ['system', 'check', ...(quick ? ['--quick'] : [])]);
  const out = (r.stdout + r.stderr).trim();
  const ok = r.code === 0 && /: ok \(/.test(r.stdout) && !/^(problem|leftover):/m.test(r.stdout);
  return { ok, output: `exit ${r.code}: ${out}` };
}
