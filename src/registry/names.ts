import { DEFAULT_DOMAIN } from '../image/reference.js';

/**
 * Where a repository lives: the registry host of a normalized reference name, the
 * repository path on it, and the key Docker files its credentials under. Pure.
 */

/** Docker Hub's API host: docker.io names are pulled from here. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
/** The key of Docker Hub's credentials in config.json (the docker CLI's IndexServer). */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** "localhost:5000/a/b" -> { domain: "localhost:5000", path: "a/b" }; Docker Hub's path keeps "library/". */
export function splitName(name: string): { domain: string; path: string } {
  const i = name.indexOf('/');
  return { domain: name.slice(0, i), path: name.slice(i + 1) };
}

/** The host[:port] berth talks to for a reference domain. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_HOST : domain;
}

/**
 * A server as users name it (`docker login SERVER`, config.json keys): "https://host:5000/v1/",
 * "http://host", "host:5000", "docker.io" -> the host[:port] it means (Docker's ConvertToHostname);
 * Docker Hub's names -> "docker.io".
 */
export function serverHost(server: string): string {
  let s = server.trim();
  s = s.replace(/^https?:\/\//, '');
  s = s.split('/')[0]!;
  if (s === 'index.docker.io' || s === DOCKER_HUB_HOST || s === DEFAULT_DOMAIN || s === '') return DEFAULT_DOMAIN;
  return s;
}

/** The config.json key of a registry's credentials: Docker Hub's URL, else host[:port]. */
export function authKey(domain: string): string {
  const h = serverHost(domain);
  return h === DEFAULT_DOMAIN ? DOCKER_HUB_AUTH_KEY : h;
}
