import { resolve } from 'node:path';
import { toBerthError } from '../core/errors.js';
import { ImageStore } from '../image/store.js';
import { ContainerStore } from '../container/store.js';
import { Containers } from './containers.js';
import { type RegistrySettings, checkRegistrySettings } from './daemon-config.js';
import { Images } from './images.js';
import { Registries } from './registries.js';
import { Volumes } from './volumes.js';
import { Networks } from './networks.js';
import { remakeBridges } from '../network/reconcile.js';
import { System } from './system.js';
import { Events } from './events.js';

/** Where an engine keeps its data. */
export interface EngineOptions {
  /** The data root (Docker's layout: image/overlay2, overlay2/, containers/, and berth/ for berth's own). */
  root: string;
  /**
   * How registries are reached, as daemon.json says it for dockerd (daemon-config.ts reads that file for the
   * CLI): insecure registries, Docker Hub's mirrors, proxies (the caller merges its environment's), and
   * where the certs.d directories are (default /etc/berth/certs.d, then /etc/docker/certs.d).
   */
  registry?: RegistrySettings;
  /** daemon.json's `host-gateway-ip`: the address `--add-host NAME:host-gateway` names (default: the bridge's gateway). */
  hostGatewayIP?: string;
  /** daemon.json's `dns`, `dns-search`, `dns-opts`: for containers that set none of that kind. */
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
  /**
   * The caller is a one-shot process that serves nothing else meanwhile (the CLI): the engine then reads the
   * container store's small files with blocking calls instead of through the thread pool, whose hand-offs cost more
   * than such reads (`ps` of 40 containers: ~30 ms of CPU less here). A long-lived process leaves it unset.
   */
  blockingReads?: boolean;
}

/**
 * berth's engine: one object per data root, the only way in for the CLI, the
 * Engine API server and Node programs. Its operations take and return the
 * Docker Engine API's shapes (API 1.41: what dockerd 20.10 speaks); they print
 * nothing and read no process-global state (cwd, environment, stdio), so one
 * engine serves many requests at once in a long-lived process. Errors are
 * BerthErrors whose kind maps to an HTTP status and a CLI exit code
 * (core/errors.ts).
 */
export class Engine {
  readonly containers: Containers;
  readonly images: Images;
  readonly registries: Registries;
  readonly volumes: Volumes;
  readonly networks: Networks;
  readonly system: System;
  /** The event journal: what every berth process (and container monitor) did with this root. */
  readonly events: Events;

  private constructor(
    /** The stores under the engine, for the engine's own modules (the CLI goes through the operations above). */
    readonly store: ImageStore,
    readonly containerStore: ContainerStore,
    /** The registry settings given at open, checked. */
    readonly registryConfig: RegistrySettings,
    /** See EngineOptions.blockingReads. */
    readonly blockingReads: boolean,
  ) {
    this.containers = new Containers(this);
    this.images = new Images(this);
    this.registries = new Registries(this);
    this.volumes = new Volumes(this);
    this.networks = new Networks(this);
    this.system = new System(this);
    this.events = new Events(store.paths.root);
  }

  /** The data root, absolute. */
  get root(): string {
    return this.store.paths.root;
  }

  /** Open (creating if needed) the data root and settle what interrupted processes left. */
  static async open(opts: EngineOptions): Promise<Engine> {
    // absolute once: the monitors of detached containers are given the root, and run from elsewhere
    const root = resolve(opts.root);
    const registry = checkRegistrySettings(opts.registry ?? {}, 'Engine.open registry');
    let store: ImageStore;
    try {
      store = await ImageStore.open(root);
    } catch (err) {
      // a root that cannot be one (a file, a read-only or pseudo file system, no permission) says so at once
      throw toBerthError(`open data root ${JSON.stringify(root)}`, err);
    }
    // after a reboot: the store's user networks' bridges again, before anything needs them or chooses a subnet
    await remakeBridges(root);
    const containers = new ContainerStore(store);
    if (opts.hostGatewayIP) containers.hostGatewayIP = opts.hostGatewayIP;
    if (opts.dns) containers.daemonDns = opts.dns;
    return new Engine(store, containers, registry, !!opts.blockingReads);
  }
}
