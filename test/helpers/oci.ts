import type { TarHeader } from '../../src/archive/tar-header.js';
import { hdr, makeTar, sha } from './archive.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ImageSpec {
  /** Layer blobs as stored (maybe compressed) and the tars they hold (for the diffIDs). */
  layers: Array<{ blob: Buffer; tar: Buffer; mediaType?: string }>;
  os?: string;
  architecture?: string;
  /** Extra fields merged into the manifest (hostile cases). */
  manifestExtra?: Record<string, unknown>;
  configMediaType?: string;
}

/**
 * An OCI image layout tar built in code: blobs are added by content, manifests and indexes
 * return their descriptors, and `tar()` writes oci-layout (unless told otherwise), index.json
 * listing the given entries, and every blob.
 */
export class OciLayout {
  readonly files = new Map<string, Buffer>();

  blob(content: Buffer | object, mediaType?: string): Descriptor {
    const b = Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content));
    const digest = `sha256:${sha(b)}`;
    this.files.set(`blobs/sha256/${sha(b)}`, b);
    return { ...(mediaType !== undefined ? { mediaType } : {}), digest, size: b.length };
  }

  image(spec: ImageSpec): Descriptor {
    const config = this.blob(
      {
        architecture: spec.architecture ?? 'amd64',
        os: spec.os ?? 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: spec.layers.map((l) => `sha256:${sha(l.tar)}`) },
      },
      spec.configMediaType ?? OCI_CONFIG,
    );
    const layers = spec.layers.map((l) => this.blob(l.blob, l.mediaType ?? OCI_LAYER));
    return this.blob(
      { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...spec.manifestExtra },
      OCI_MANIFEST,
    );
  }

  index(manifests: Descriptor[], extra: Record<string, unknown> = {}): Descriptor {
    return this.blob({ schemaVersion: 2, mediaType: OCI_INDEX, manifests, ...extra }, OCI_INDEX);
  }

  tar(entries: Descriptor[], opts: { layout?: unknown; indexExtra?: Record<string, unknown> } = {}): Buffer {
    const files = new Map(this.files);
    if (opts.layout !== undefined) {
      if (opts.layout !== null)
        files.set(
          'oci-layout',
          Buffer.from(typeof opts.layout === 'string' ? opts.layout : JSON.stringify(opts.layout)),
        );
    } else {
      files.set('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    }
    files.set(
      'index.json',
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries, ...opts.indexExtra })),
    );
    return makeTar([...files].map(([n, b]) => [hdr(n), b] as [TarHeader, Buffer]));
  }
}

/** A descriptor with a name, as `docker save` (25+) and containerd write them in index.json. */
export function named(d: Descriptor, name?: string, refName?: string): Descriptor {
  const annotations: Record<string, string> = {};
  if (name !== undefined) annotations['io.containerd.image.name'] = name;
  if (refName !== undefined) annotations['org.opencontainers.image.ref.name'] = refName;
  return { ...d, annotations };
}

export function onPlatform(d: Descriptor, os: string, architecture: string, variant?: string): Descriptor {
  return { ...d, platform: { os, architecture, ...(variant ? { variant } : {}) } };
}
