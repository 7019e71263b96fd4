import { createHash } from 'node:crypto';
import { encodeHeader, padding, type TarHeader } from '../../src/archive/tar-header.js';

export function hdr(name: string, over: Partial<TarHeader> = {}): TarHeader {
  return {
    name,
    linkname: '',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 1700000000,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  };
}

/** A tar built in code: entries of [header, body]. Sizes come from the bodies. */
export function makeTar(entries: Array<[TarHeader, (string | Buffer)?]>, trailer = true): Buffer {
  const parts: Buffer[] = [];
  for (const [h, body] of entries) {
    const b = typeof body === 'string' ? Buffer.from(body) : (body ?? Buffer.alloc(0));
    parts.push(encodeHeader({ ...h, size: h.type === 'file' ? b.length : 0 }), b, Buffer.alloc(padding(b.length)));
  }
  if (trailer) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * A docker-archive (as `docker save` writes) holding one image per entry of
 * `images`: each is a list of layer tars (uncompressed) plus tags. `mutate`
 * may change the files before the outer tar is built (for hostile cases).
 */
export function dockerArchive(
  images: Array<{ layers: Buffer[]; tags: string[]; diffIDs?: string[] }>,
  mutate?: (files: Map<string, Buffer>) => void,
): Buffer {
  const files = new Map<string, Buffer>();
  const manifest = images.map((img) => {
    const diffIDs = img.diffIDs ?? img.layers.map((l) => `sha256:${sha(l)}`);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        created: '2024-01-01T00:00:00Z',
        history: img.layers.map(() => ({ created_by: 'test' })),
        rootfs: { type: 'layers', diff_ids: diffIDs },
      }),
    );
    const cfgName = `${sha(config)}.json`;
    files.set(cfgName, config);
    const layers = img.layers.map((l) => {
      const n = `${sha(l)}/layer.tar`;
      files.set(n, l);
      return n;
    });
    return { Config: cfgName, RepoTags: img.tags, Layers: layers };
  });
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  mutate?.(files);
  return makeTar([...files].map(([n, b]) => [hdr(n), b] as [TarHeader, Buffer]));
}

export function configId(archive: Map<string, Buffer>): string {
  return [...archive.keys()].find((k) => k.endsWith('.json') && k !== 'manifest.json')!;
}
