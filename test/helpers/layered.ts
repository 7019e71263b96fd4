/**
 * Multi-layer fixtures for store tests and benchmarks, made without any peer:
 * split a rootfs tar into layer tars, make small synthetic layers, and write a
 * docker-archive (manifest.json + <config>.json + <diffID>/layer.tar) for images
 * built from them. Layer tars are cached under .cache/fixtures/layers (keyed by
 * the source tar's size and mtime) so each test run does not redo the split.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { once } from 'node:events';
import { indexTarFile } from '../../src/archive/tar-index.js';
import { encodeHeader, padding, type TarHeader } from '../../src/archive/tar-header.js';
import { TarWriter, fileHeader } from '../../src/archive/tar-writer.js';
import { cleanEntryName } from '../../src/archive/names.js';
import { goArch } from '../../src/image/archive-plan.js';
import { chainIDs, type DiffID } from '../../src/core/digest.js';
import { REPO } from './berth.js';

export interface LayerTar {
  path: string;
  /** sha256 of the tar: "sha256:<hex>". */
  diffID: string;
  size: number;
}

const CACHE = `${REPO}/.cache/fixtures/layers`;

/** Write a tar body synchronously into fd while hashing it. */
class HashedFile {
  private hash = createHash('sha256');
  size = 0;
  private fd: number;
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'w', 0o644);
  }
  write(b: Buffer): void {
    fs.writeSync(this.fd, b);
    this.hash.update(b);
    this.size += b.length;
  }
  close(): LayerTar {
    this.write(Buffer.alloc(1024));
    fs.closeSync(this.fd);
    return { path: this.path, diffID: `sha256:${this.hash.digest('hex')}`, size: this.size };
  }
}

/**
 * The debootstrap rootfs split by top-level directory into 5 layers:
 *   0 everything else (/, bin->usr/bin, dev, root, run, tmp, ...)  1 etc  2 var
 *   3 usr except usr/share  4 usr/share
 * Hardlinks stay within one layer (their targets share the top-level group).
 */
export const DEBOOTSTRAP_GROUPS = ['base', 'etc', 'var', 'usr', 'usr-share'] as const;
export function debootstrapGroup(clean: string): number {
  if (clean === 'etc' || clean.startsWith('etc/')) return 1;
  if (clean === 'var' || clean.startsWith('var/')) return 2;
  if (clean === 'usr/share' || clean.startsWith('usr/share/')) return 4;
  if (clean === 'usr' || clean.startsWith('usr/')) return 3;
  return 0;
}

/** Split a rootfs tar into `n` layer tars by `groupOf(cleaned name)`; cached by source identity. */
export function splitRootfsTar(src: string, n: number, groupOf: (clean: string) => number, tag: string): LayerTar[] {
  const st = fs.statSync(src);
  const dir = `${CACHE}/${tag}-${st.size}-${Math.floor(st.mtimeMs)}`;
  const doneFile = `${dir}/layers.json`;
  if (fs.existsSync(doneFile)) {
    const cached = JSON.parse(fs.readFileSync(doneFile, 'utf8')) as LayerTar[];
    if (cached.every((l) => fs.existsSync(l.path) && fs.statSync(l.path).size === l.size)) return cached;
  }
  // made in a directory of this process's own, then renamed into place: test files running at the same time may split
  // too
  const stage = `${dir}.tmp-${process.pid}`;
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  const outs = Array.from({ length: n }, (_, i) => new HashedFile(`${stage}/layer-${i}.tar`));
  const index = indexTarFile(src, 'rootfs');
  const fd = fs.openSync(src, 'r');
  try {
    for (const [clean, e] of index) {
      const g = groupOf(clean);
      if (e.header.type === 'link') {
        const tg = groupOf(cleanEntryName(e.header.linkname));
        if (tg !== g)
          throw new Error(`splitRootfsTar: hardlink ${clean} -> ${e.header.linkname} crosses layers ${g}/${tg}`);
      }
      const out = outs[g]!;
      out.write(encodeHeader(e.header));
      if (e.header.type === 'file' && e.header.size > 0) {
        const body = Buffer.alloc(e.header.size + padding(e.header.size));
        fs.readSync(fd, body, 0, e.header.size, e.offset);
        out.write(body);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  const layers = outs
    .map((o) => ({ ...o.close() }))
    .map((l) => ({ ...l, path: `${dir}/${l.path.slice(stage.length + 1)}` }));
  fs.writeFileSync(`${stage}/layers.json`, JSON.stringify(layers));
  if (!fs.existsSync(doneFile)) fs.rmSync(dir, { recursive: true, force: true }); // an incomplete split of an older test run
  try {
    fs.renameSync(stage, dir);
  } catch (err) {
    // another process put its identical split there first
    if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return layers;
}

/** A small synthetic layer: `files` files of `fileSize` bytes (pseudo-random, from `seed`) under /opt/<name>/. */
export function syntheticLayer(dir: string, name: string, files: number, fileSize: number, seed: number): LayerTar {
  fs.mkdirSync(dir, { recursive: true });
  const out = new HashedFile(`${dir}/${name}.tar`);
  const dirHdr = (p: string): TarHeader => fileHeader(p, 0, { type: 'dir', mode: 0o755, mtime: 1700000000 });
  out.write(encodeHeader(dirHdr('opt/')));
  out.write(encodeHeader(dirHdr(`opt/${name}/`)));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < files; i++) {
    const body = Buffer.alloc(fileSize);
    for (let j = 0; j < fileSize; j += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      body.writeUInt32LE(x, j);
    }
    out.write(encodeHeader(fileHeader(`opt/${name}/f${i}`, fileSize, { mtime: 1700000000 })));
    out.write(body);
    const pad = padding(fileSize);
    if (pad) out.write(Buffer.alloc(pad));
  }
  return out.close();
}

export interface ArchiveImage {
  layers: LayerTar[];
  tags: string[];
  /** Makes configs of images with the same layers differ. */
  label?: string;
}

export function imageConfig(img: ArchiveImage): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: goArch(),
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
        Labels: img.label ? { fixture: img.label } : null,
      },
      rootfs: { type: 'layers', diff_ids: img.layers.map((l) => l.diffID) },
      history: img.layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
}

/** The image ID ("sha256:<hex>") berth/docker give the image. */
export function imageIdOf(img: ArchiveImage): string {
  return `sha256:${createHash('sha256').update(imageConfig(img)).digest('hex')}`;
}

/** The chainIDs of an image's layers. */
export function chainOf(img: ArchiveImage): string[] {
  return chainIDs(img.layers.map((l) => l.diffID as DiffID));
}

/**
 * Write a docker-archive (the legacy `docker save` layout: <diffhex>/layer.tar,
 * <confighex>.json, manifest.json) holding these images; shared
 * layers are stored once.
 */
export async function writeDockerArchive(out: string, images: ArchiveImage[]): Promise<void> {
  const tmp = `${out}.tmp-${process.pid}`;
  const ws = fs.createWriteStream(tmp, { mode: 0o644 });
  const w = new TarWriter(ws);
  const written = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  for (const img of images) {
    const layerNames: string[] = [];
    for (const l of img.layers) {
      const hex = l.diffID.slice(7);
      const name = `${hex}/layer.tar`;
      layerNames.push(name);
      if (written.has(name)) continue;
      written.add(name);
      await w.add(fileHeader(`${hex}/`, 0, { type: 'dir', mode: 0o755 }));
      await w.addStream(fileHeader(name, l.size), fs.createReadStream(l.path, { highWaterMark: 1 << 20 }));
    }
    const cfg = imageConfig(img);
    const cfgName = `${createHash('sha256').update(cfg).digest('hex')}.json`;
    if (!written.has(cfgName)) {
      written.add(cfgName);
      await w.add(fileHeader(cfgName, cfg.length), cfg);
    }
    manifest.push({ Config: cfgName, RepoTags: img.tags.length ? img.tags : null, Layers: layerNames });
  }
  const mf = Buffer.from(JSON.stringify(manifest));
  await w.add(fileHeader('manifest.json', mf.length), mf);
  await w.finish();
  ws.end();
  await once(ws, 'finish');
  fs.renameSync(tmp, out);
}
