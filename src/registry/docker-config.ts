import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { corrupt, forbidden, invalid, unavailable, wrap } from '../core/errors.js';
import type { AuthConfig } from './client.js';
import { DOCKER_HUB_AUTH_KEY, serverHost } from './names.js';

/**
 * The docker CLI's config.json (`$DOCKER_CONFIG/config.json`, `~/.docker/config.json`):
 * credentials under `auths` ("auth" is base64 user:password), or in a credential helper
 * (`credsStore` for all registries, `credHelpers` per registry) run as
 * `docker-credential-<name> get|store|erase`. Written as docker writes it (tab-indented,
 * mode 0600, keys berth does not know kept), so a `docker login` serves berth and back.
 */
export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string; registrytoken?: string; email?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export function configPath(dir: string): string {
  return join(dir, 'config.json');
}

export function readDockerConfig(dir: string): DockerConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(configPath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw wrap(`read ${configPath(dir)}`, err);
  }
  if (text.trim() === '') return {};
  try {
    const j = JSON.parse(text) as DockerConfigFile;
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('not a JSON object');
    return j;
  } catch (err) {
    throw corrupt('docker_config', `${configPath(dir)}: ${(err as Error).message}`);
  }
}

/**
 * The file a write of config.json replaces: a symlink there (dotfiles kept elsewhere) is followed to
 * its target, dangling or not, as the docker CLI's Save does, so the link stays and the credentials
 * change where they are kept; anything but a regular file or nothing at the end is refused.
 */
function configTarget(dir: string): string {
  let p = configPath(dir);
  for (let links = 0; ; links++) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return p;
    if (st.isFile()) return p;
    if (!st.isSymbolicLink()) throw invalid('docker_config', `write ${configPath(dir)}: ${p} is not a regular file`);
    if (links >= 40) throw invalid('docker_config', `write ${configPath(dir)}: too many levels of symbolic links`);
    p = resolve(dirname(p), fs.readlinkSync(p));
  }
}

function writeDockerConfig(dir: string, cfg: DockerConfigFile): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = configTarget(dir);
  // staged beside the file it replaces: the rename stays within one filesystem
  const tmp = join(dirname(target), `.config.json.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, JSON.stringify(cfg, null, '\t'), { mode: 0o600 });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw wrap(`write ${configPath(dir)}`, err);
  }
}

/** The key under which `server`'s credentials are: Docker Hub's URL, else the key as written, found by host. */
function findKey(keys: string[], server: string): string | undefined {
  const host = serverHost(server);
  const want = host === 'docker.io' ? DOCKER_HUB_AUTH_KEY : host;
  return keys.find((k) => k === want) ?? keys.find((k) => serverHost(k) === host);
}

function helperFor(cfg: DockerConfigFile, server: string): string | undefined {
  const helpers = cfg.credHelpers ?? {};
  const k = findKey(Object.keys(helpers), server);
  return (k !== undefined ? helpers[k] : undefined) || cfg.credsStore || undefined;
}

/** The credentials config.json holds for a registry (its host[:port], or Docker Hub), if any. */
export function getCredentials(dir: string, server: string): AuthConfig | undefined {
  const cfg = readDockerConfig(dir);
  const key = storeKey(server);
  const helper = helperFor(cfg, server);
  if (helper) {
    const r = runHelper(helper, 'get', key);
    if (r.code !== 0) {
      if (/credentials not found/i.test(r.out)) return undefined;
      throw unavailable(
        'credential_helper',
        `docker-credential-${helper} get: ${r.out.trim() || `exit status ${r.code}`}`,
      );
    }
    let j: { Username?: string; Secret?: string };
    try {
      j = JSON.parse(r.json);
    } catch {
      throw invalid('credential_helper', `docker-credential-${helper} get: the answer is not JSON`);
    }
    if (!j.Secret) return undefined;
    // "<token>" is how helpers mark an identity token (OAuth refresh token)
    if (j.Username === '<token>') return { identitytoken: j.Secret, serveraddress: key };
    return { username: j.Username ?? '', password: j.Secret, serveraddress: key };
  }
  const auths = cfg.auths ?? {};
  const k = findKey(Object.keys(auths), server);
  if (k === undefined) return undefined;
  const e = auths[k] ?? {};
  const out: AuthConfig = { serveraddress: k };
  if (e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i < 0)
      throw corrupt(
        'docker_config',
        `${configPath(dir)}: the auth of ${JSON.stringify(k)} is not base64 "user:password"`,
      );
    out.username = plain.slice(0, i);
    out.password = plain.slice(i + 1);
  }
  if (e.identitytoken) out.identitytoken = e.identitytoken;
  if (e.registrytoken) out.registrytoken = e.registrytoken;
  return out.username !== undefined || out.identitytoken || out.registrytoken ? out : undefined;
}

/** The key docker login files a server under: Docker Hub's URL, else the server as given (host[:port]). */
export function storeKey(server: string): string {
  return serverHost(server) === 'docker.io'
    ? DOCKER_HUB_AUTH_KEY
    : server.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** Save credentials as `docker login` does: in the helper if one is configured, else base64 in auths. */
export function storeCredentials(dir: string, server: string, user: string, password: string): void {
  const cfg = readDockerConfig(dir);
  const key = storeKey(server);
  const helper = helperFor(cfg, server);
  cfg.auths ??= {};
  if (helper) {
    const r = runHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: user, Secret: password }));
    if (r.code !== 0)
      throw unavailable(
        'credential_helper',
        `docker-credential-${helper} store: ${r.out.trim() || `exit status ${r.code}`}`,
      );
    // docker keeps an empty entry, so `docker info`/logout know the registry
    if (!cfg.credHelpers?.[key]) cfg.auths[key] = {};
  } else {
    cfg.auths[key] = { auth: Buffer.from(`${user}:${password}`).toString('base64') };
  }
  writeDockerConfig(dir, cfg);
}

/** Remove a server's credentials (`docker logout`); false when there were none. */
export function eraseCredentials(dir: string, server: string): boolean {
  const cfg = readDockerConfig(dir);
  const key = storeKey(server);
  const auths = cfg.auths ?? {};
  const k = findKey(Object.keys(auths), server);
  const helper = helperFor(cfg, server);
  let found = k !== undefined;
  if (helper) {
    const r = runHelper(helper, 'erase', key);
    if (r.code === 0) found = true;
    else if (!/credentials not found/i.test(r.out))
      throw unavailable(
        'credential_helper',
        `docker-credential-${helper} erase: ${r.out.trim() || `exit status ${r.code}`}`,
      );
  }
  if (k !== undefined) {
    delete auths[k];
    writeDockerConfig(dir, cfg);
  }
  return found;
}

function runHelper(name: string, action: string, input: string): { code: number; out: string; json: string } {
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw invalid('credential_helper', `invalid credential helper name ${JSON.stringify(name)}`);
  const r = spawnSync(`docker-credential-${name}`, [action], { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) {
    const e = r.error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT')
      throw unavailable('credential_helper', `docker-credential-${name}: executable file not found in $PATH`);
    if (e.code === 'EACCES') throw forbidden('credential_helper', `docker-credential-${name}: permission denied`);
    throw wrap(`docker-credential-${name} ${action}`, e);
  }
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, json: r.stdout ?? '' };
}
