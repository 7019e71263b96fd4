import * as fs from 'node:fs';
import { join } from 'node:path';
import { type ChainID, type DiffID, chainIDs } from '../../src/core/digest.js';
import { berthOk } from './berth.js';

/**
 * A store where `rmi app:1` deletes a built chain part-way: base (from-host),
 * app:1 built in four steps (RUN, RUN, ENV, RUN), other:1 built on app's first
 * step (a build-cache hit). app's two parents above that step are untagged and
 * go with it; the shared step stays for other:1, base stays tagged. The chain
 * mixes images with a layer of their own and one without (ENV).
 */
export interface BuiltChain {
  app: string;
  /** The untagged parents rmi deletes with app, child first. */
  parents: [string, string];
  /** app's first step, other's parent: it must stay. */
  shared: string;
  other: string;
  base: string;
  /** Layers only app's chain has (RUN c, RUN b), top first: rmi deletes them. */
  doomedLayers: ChainID[];
}

const DOCKERFILES = {
  app: 'FROM base\nRUN echo one > /a\nRUN echo two > /b\nENV X=1\nRUN echo three > /c\n',
  other: 'FROM base\nRUN echo one > /a\nLABEL team=red\n',
};

export function buildChainStore(root: string, ctx: string): BuiltChain {
  berthOk(root, ['image', 'from-host', 'base', 'sh', 'echo']);
  const ids: Record<string, string> = {};
  for (const [name, text] of Object.entries(DOCKERFILES)) {
    fs.mkdirSync(join(ctx, name), { recursive: true });
    fs.writeFileSync(join(ctx, name, 'Dockerfile'), text);
    ids[name] = berthOk(root, ['build', '-q', '-t', `${name}:1`, join(ctx, name)]).trim();
  }
  const parentOf = (id: string) => readOptional(`${root}/image/overlay2/imagedb/metadata/sha256/${id.slice(7)}/parent`);
  const chain = [ids.app!];
  for (let p = parentOf(ids.app!); p; p = parentOf(p)) chain.push(p);
  const base = berthOk(root, ['image', 'inspect', '--format', '{{.Id}}', 'base']).trim();
  const [app, p0, p1, shared] = chain;
  if (chain.length !== 5 || chain[4] !== base || parentOf(ids.other!) !== shared) {
    throw new Error(
      `built chain is not app -> 2 parents -> shared step -> base with other:1 on the shared step: app chain ${chain.join(' ')}, other's parent ${parentOf(ids.other!)}`,
    );
  }
  const layersOf = (id: string) => {
    const cfg = JSON.parse(fs.readFileSync(`${root}/image/overlay2/imagedb/content/sha256/${id.slice(7)}`, 'utf8')) as {
      rootfs: { diff_ids: DiffID[] };
    };
    return chainIDs(cfg.rootfs.diff_ids);
  };
  const kept = new Set(layersOf(ids.other!));
  const doomedLayers = layersOf(app!)
    .filter((c) => !kept.has(c))
    .reverse();
  if (doomedLayers.length !== 2) throw new Error(`app:1 should have two layers of its own, has ${doomedLayers.length}`);
  return { app: app!, parents: [p0!, p1!], shared: shared!, other: ids.other!, base, doomedLayers };
}

function readOptional(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}
