import { invalid } from '../../core/errors.js';
import type { Images } from '../../engine/images.js';
import type { Command, Context } from '../context.js';

/** Print the walk through the store a user would do by hand for an image. */
export function printLayerWalk(ctx: Context, images: Images, name: string): void {
  const w = images.layers(name);
  ctx.out(`Image ${w.Id}`);
  ctx.out(`  config:  ${w.Config}`);
  ctx.out(`  layers:  ${w.Layers.length} (rootfs.diff_ids, base first)`);
  for (const l of w.Layers) {
    ctx.out('');
    ctx.out(`Layer ${l.index}`);
    ctx.out(`  diffID:    ${l.diffID}`);
    if (l.chainInputs) {
      ctx.out(`  chainID:   ${l.chainID}`);
      ctx.out(`             = sha256("${l.chainInputs[0]} ${l.chainInputs[1]}")`);
    } else {
      ctx.out(`  chainID:   ${l.chainID}  (base layer: chainID = diffID)`);
    }
    ctx.out(
      `  layerdb:   ${l.layerdbDir}/{diff,size,cache-id${l.chainInputs ? ',parent' : ''}${l.tarSplit ? ',tar-split.json.gz' : ''}}`,
    );
    ctx.out(`  cache-id:  ${l.cacheId}`);
    ctx.out(`  overlay2:  ${l.overlayDir}/diff`);
    ctx.out(`  link:      ${l.link}  (${l.linkTarget})`);
    ctx.out(`  lower:     ${l.lower ?? '(none: base layer)'}`);
    ctx.out(`  size:      ${l.size}`);
  }
  ctx.out('');
  ctx.out(`Mount (cwd ${w.Mount.cwd}):`);
  ctx.out(`  image, read-only:  mount -t overlay overlay -o ${w.Mount.readOnly} <target>`);
  ctx.out(`  container:         mount -t overlay overlay -o ${w.Mount.container} <rw-layer>/merged`);
}

export const imageLayers: Command = {
  names: [['image', 'layers']],
  usage: 'image layers IMAGE',
  summary: "Show an image's layers as stored: diffIDs, chainIDs, cache-ids, links, lowers, mount options",
  options: {},
  async run(ctx, args) {
    if (args.length !== 1) throw invalid('usage', '"image layers" requires exactly 1 argument');
    printLayerWalk(ctx, (await ctx.engine()).images, args[0]!);
  },
};
