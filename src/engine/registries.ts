import { invalid, notFound } from '../core/errors.js';
import { familiarName, familiarString, parseReference, withDefaultTag } from '../image/reference.js';
import type { AuthConfig } from '../registry/client.js';
import { registryHost, serverHost, splitName } from '../registry/names.js';
import type { PullEvent } from '../registry/progress.js';
import type { PushedTag } from '../registry/push.js';
import type { Engine } from './engine.js';

// The registry client, pull and push are imported by the operations that use them: every command opens an engine,
// and most never talk to a registry (their modules are ~100 KB of a CLI process's start-up otherwise).
const clientModule = () => import('../registry/client.js');
const pullModules = () => Promise.all([import('../registry/pull.js'), import('../registry/manifest.js')]);

export type { AuthConfig } from '../registry/client.js';
export type { PullEvent } from '../registry/progress.js';
export type { PushedTag } from '../registry/push.js';

/** POST /images/create?fromImage=...: options. */
export interface ImagePullOptions {
  /** "os/arch[/variant]"; default this host's. */
  platform?: string;
  /** Credentials for the image's registry (the API's X-Registry-Auth); never read from a file here. */
  auth?: AuthConfig;
  /** Docker's JSON progress messages, as they happen. */
  onProgress?: (e: PullEvent) => void;
  /** Every tag of a repository named without tag or digest (`pull -a`; the API's fromImage with no tag). */
  allTags?: boolean;
}

export interface ImagePullResult {
  Id: string;
  /** The manifest digest the reference resolved to (what RepoDigests records). */
  Digest: string;
  /** The reference in full ("localhost:5000/app:latest"). */
  Reference: string;
  Status: string;
}

/** POST /images/{name}/push: options. */
export interface ImagePushOptions {
  /** The API's ?tag=: push this tag of `name` (which then has none). */
  tag?: string;
  /** Push every tag of the repository (the CLI's -a; the API's push without a tag). */
  allTags?: boolean;
  /** Credentials for the image's registry (the API's X-Registry-Auth); never read from a file here. */
  auth?: AuthConfig;
  /** Layer compression: "gzip" (default, Docker schema2) or "zstd" (OCI manifest; beyond Docker). */
  compression?: 'gzip' | 'zstd';
  /** Docker's JSON progress messages (Preparing, Pushing, Pushed, ...), as they happen. */
  onProgress?: (e: PullEvent) => void;
}

/** Registry operations: pull, and checking credentials for login (POST /images/create, POST /auth). */
export class Registries {
  constructor(readonly engine: Engine) {}

  /** The registry a reference lives on, as config.json keys it ("localhost:5000", "docker.io"). */
  registryOf(name: string): string {
    return splitName(withDefaultTag(parseReference(name)).name).domain;
  }

  /** Full form of a reference as given ("127.0.0.1:5000/app:v1", "docker.io/library/busybox"). */
  fullName(name: string): string {
    const r = parseReference(name);
    return `${r.name}${r.tag !== undefined ? `:${r.tag}` : ''}`;
  }

  /** Familiar form of a reference ("busybox:latest"). */
  familiar(name: string): string {
    return familiarString(withDefaultTag(parseReference(name)));
  }

  async pull(name: string, opts: ImagePullOptions = {}): Promise<ImagePullResult> {
    if (opts.allTags) return this.pullAllTags(name, opts);
    const [{ pullImage }, { parsePlatform }] = await pullModules();
    const r = await pullImage(this.engine.store, name, {
      registry: this.engine.registryConfig,
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const pulled = this.familiar(r.reference);
    this.engine.events.emit('image', 'pull', pulled, { name: pulled });
    return { Id: r.id, Digest: r.digest, Reference: r.reference, Status: r.status };
  }

  /**
   * Every tag of a repository, one pull each, as dockerd does for fromImage without a tag:
   * each tag's progress, then one Status line for the repository. A tag that fails ends the
   * pull with its error (the tags pulled before it stay, as with dockerd).
   */
  private async pullAllTags(name: string, opts: ImagePullOptions): Promise<ImagePullResult> {
    const ref = parseReference(name);
    if (ref.tag !== undefined || ref.digest !== undefined)
      throw invalid('usage', "tag can't be used with --all-tags/-a");
    const { domain, path } = splitName(ref.name);
    const [{ RegistryClient }, { listTags }] = await Promise.all([clientModule(), import('../registry/tags.js')]);
    const client = await RegistryClient.open(registryHost(domain), opts.auth, this.engine.registryConfig);
    const tags = await listTags(client, path, [`repository:${path}:pull`]);
    if (tags.length === 0) throw notFound('manifest_unknown', `${familiarName(ref.name)}: the repository has no tags`);
    const emit = opts.onProgress ?? (() => undefined);
    let newer = false;
    let last: ImagePullResult | undefined;
    for (const tag of tags) {
      last = await this.pull(`${ref.name}:${tag}`, {
        ...opts,
        allTags: false,
        onProgress: (e) => {
          if (e.status?.startsWith('Status: ')) newer ||= e.status.includes('Downloaded newer image');
          else emit(e);
        },
      });
    }
    const shown = familiarName(ref.name);
    const status = newer ? `Downloaded newer image for ${shown}` : `Image is up to date for ${shown}`;
    emit({ status: `Status: ${status}` });
    return { ...last!, Reference: ref.name, Status: status };
  }

  /**
   * Push a tag (or every tag) of an image to its registry; returns what each tag became
   * (the push's aux messages: Tag, Digest, Size), and records the RepoDigests.
   */
  async push(name: string, opts: ImagePushOptions = {}): Promise<PushedTag[]> {
    const { pushImage } = await import('../registry/push.js');
    const pushed = await pushImage(this.engine.store, opts.tag !== undefined ? `${name}:${opts.tag}` : name, {
      registry: this.engine.registryConfig,
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.allTags ? { allTags: true } : {}),
      ...(opts.compression ? { compression: opts.compression } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    // `name` may carry its tag (the CLI passes NAME[:TAG] whole): each pushed tag goes on the bare repository
    const repo = parseReference(name).name;
    for (const p of pushed) {
      const ref = this.familiar(p.Tag ? `${repo}:${p.Tag}` : name);
      this.engine.events.emit('image', 'push', ref, { name: ref });
    }
    return pushed;
  }

  /** POST /auth: check credentials against the registry; nothing is stored. */
  async login(auth: AuthConfig & { serveraddress: string }): Promise<{ Status: string; IdentityToken: string }> {
    // (no mirrors for a login: the registry itself, as dockerd)
    const config = { ...this.engine.registryConfig, mirrors: [] };
    const { RegistryClient } = await clientModule();
    const client = await RegistryClient.open(registryHost(serverHost(auth.serveraddress)), auth, config);
    await client.checkLogin();
    return { Status: 'Login Succeeded', IdentityToken: '' };
  }
}
