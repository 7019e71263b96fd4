import type { Engine } from './engine.js';

/** Image operations (Docker Engine API /images/..., /build, /commit). */
export class Images {
  constructor(readonly engine: Engine) {}
}
