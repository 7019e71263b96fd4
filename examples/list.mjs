// berth as a library: what `berth images` and `berth ps -a` show, as the Docker Engine API's JSON
// (ImageSummary, ContainerSummary). Data root: $BERTH_ROOT (default /var/lib/berth).
//   BERTH_ROOT=/tmp/berth-example node examples/list.mjs
import { Engine } from 'berth';

const engine = await Engine.open({ root: process.env.BERTH_ROOT || '/var/lib/berth' });
for (const image of engine.images.list()) {
  console.log(`image ${image.Id.slice(7, 19)} ${image.RepoTags.join(', ') || '<none>'} ${image.Size} bytes`);
}
for (const c of await engine.containers.list({ all: true })) {
  console.log(`container ${c.Id.slice(0, 12)} ${c.Names[0]} ${c.Image} ${c.Status}`);
}
