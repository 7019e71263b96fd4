import { unsupported } from '../core/errors.js';
import { formatPlatform, hostPlatform, normalizePlatform, platformRank } from '../image/platform.js';
import type { ImageStore } from '../image/store.js';
import type { ImageSummary } from './image-types.js';

/**
 * /system/df's image half, as dockerd computes it: LayersSize is every
 * layer once; an image's SharedSize is the size of its layers another image
 * also uses; Containers counts the containers made from it.
 */
export function layersUsage(store: ImageStore, images: ImageSummary[]): { layersSize: number; images: ImageSummary[] } {
  const users = new Map<string, number>();
  const layersOf = new Map<string, Array<{ chainID: string; size: number }>>();
  for (const img of images) {
    const layers = store.imageLayers(img.Id as never).map((l) => ({ chainID: l.chainID as string, size: l.size }));
    layersOf.set(img.Id, layers);
    for (const l of layers) users.set(l.chainID, (users.get(l.chainID) ?? 0) + 1);
  }
  const layersSize = store.layers.list().reduce((n, c) => n + (store.layers.get(c)?.size ?? 0), 0);
  return {
    layersSize,
    images: images.map((img) => ({
      ...img,
      SharedSize: (layersOf.get(img.Id) ?? []).reduce((n, l) => n + ((users.get(l.chainID) ?? 0) > 1 ? l.size : 0), 0),
      Containers: store.containersUsing(img.Id as never).length,
    })),
  };
}

/** `import --platform`: berth imports for this host only (one it runs, as `os/arch[/variant]`). */
export function checkImportPlatform(platform: string): void {
  const [os = '', architecture = '', variant] = platform.split('/');
  const p = normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) });
  if (platformRank(p) < 0)
    throw unsupported(
      'platform',
      `import --platform ${JSON.stringify(platform)}: berth imports images for this host (${formatPlatform(hostPlatform())})`,
    );
}
