import { join } from 'node:path';
import { getCredentials } from '../../engine/client-config.js';
import type { AuthConfig } from '../../engine/registries.js';

/** The docker CLI's config dir: $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(): string {
  return process.env.DOCKER_CONFIG || join(process.env.HOME || '/root', '.docker');
}

/** The caller's credentials for a registry, from their config.json (the engine never reads it). */
export function credentialsFor(registry: string): AuthConfig | undefined {
  return getCredentials(dockerConfigDir(), registry);
}
