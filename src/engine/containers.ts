import type { Engine } from './engine.js';

/** Container operations (Docker Engine API /containers/...). */
export class Containers {
  constructor(readonly engine: Engine) {}
}
