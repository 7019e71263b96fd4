import type { Command } from '../context.js';
import { fromHost } from './from-host.js';
import { history } from './history.js';
import { images } from './images.js';
import { importCmd } from './import.js';
import { imageInspect, inspect } from './inspect.js';
import { imageLayers } from './layers.js';
import { load } from './load.js';
import { imagePrune } from './prune.js';
import { rmi } from './rmi.js';
import { save } from './save.js';
import { systemCheck } from './system-check.js';
import { systemDf } from './system-df.js';
import { tag } from './tag.js';
import { create, run, start } from './run.js';
import { ps } from './ps.js';
import { rm } from './rm.js';
import { diff } from './diff.js';
import { commit } from './commit.js';
import { exportCmd } from './export.js';

/** Every CLI verb; main.ts picks one by its leading words. */
export const commands: Command[] = [
  run, create, start, ps, rm, diff, commit, exportCmd,
  images, importCmd, load, save, tag, rmi, history, inspect, imageInspect, imageLayers, fromHost, imagePrune, systemDf, systemCheck,
];
