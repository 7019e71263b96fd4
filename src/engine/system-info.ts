/** What System (system.ts) loads when first asked: /version, /info, /system/df and /build/prune. */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import type { Filters } from '../core/filters.js';
import { rfc3339Nano } from '../core/time.js';
import { detectCgroups, swapAccounting } from '../runtime/cgroups/cgroups.js';
import { helperPath } from '../runtime/helper.js';
import { listPartials } from '../storage/partial-blobs.js';
import type { Engine } from './engine.js';
import {
  API_VERSION,
  ENGINE_VERSION,
  MIN_API_VERSION,
  ansicTime,
  buildTime,
  gitCommit,
  goArch,
  hostFacts,
  ipv4Forwarding,
  operatingSystem,
  overlayStatus,
  runcVersion,
} from './system-host.js';
import type {
  BuildCachePruneResponse,
  BuildCacheRecord,
  DiskUsage,
  IndexInfo,
  SystemInfo,
  VersionResponse,
} from './system-types.js';

/** The OCI runtime berth runs containers with unless told `--runtime runc`. */
const DEFAULT_RUNTIME = 'berth';

export class SystemImpl {
  constructor(private readonly engine: Engine) {}

  /** GET /version: the engine, the OCI runtimes it runs (berth's helper, runc when installed). */
  version(): VersionResponse {
    const h = hostFacts();
    const built = buildTime();
    const commit = gitCommit();
    const runc = runcVersion();
    const details = {
      ApiVersion: API_VERSION,
      Arch: goArch(),
      BuildTime: built ? ansicTime(built) : '',
      Experimental: 'false',
      GitCommit: commit,
      GoVersion: process.version,
      KernelVersion: h.kernel,
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
    };
    return {
      Platform: { Name: 'berth' },
      Components: [
        { Name: 'Engine', Version: ENGINE_VERSION, Details: details },
        { Name: 'berth-helper', Version: ENGINE_VERSION, Details: { GitCommit: commit, Path: helperOrEmpty() } },
        ...(runc.version ? [{ Name: 'runc', Version: runc.version, Details: { GitCommit: runc.commit } }] : []),
      ],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: commit,
      GoVersion: process.version,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: h.kernel,
      BuildTime: built ? rfc3339Nano(built.toISOString()) : '',
    };
  }

  /** GET /info. */
  async info(): Promise<SystemInfo> {
    const engine = this.engine;
    const containers = await engine.containers.list({ all: true });
    const running = containers.filter((c) => c.State === 'running' || c.State === 'restarting').length;
    const paused = containers.filter((c) => c.State === 'paused').length;
    const h = hostFacts();
    const osr = operatingSystem();
    const cg = detectCgroups();
    const swap = swapAccounting(cg);
    const forwarding = ipv4Forwarding();
    const runc = runcVersion();
    const reg = engine.registryConfig;
    const networkDrivers = new Set(['bridge', 'host', 'null', ...engine.networks.list().map((n) => n.Driver)]);
    const warnings = [
      ...(swap ? [] : ['WARNING: No swap limit support']),
      ...(forwarding ? [] : ['WARNING: IPv4 forwarding is disabled']),
    ];
    const insecure = reg.insecureRegistries ?? [];
    const cidrs = insecure.filter((e) => e.includes('/') && isIP(e.split('/')[0]!));
    const indexConfigs: Record<string, IndexInfo> = {
      'docker.io': { Name: 'docker.io', Mirrors: reg.mirrors ?? [], Secure: true, Official: true },
    };
    for (const name of insecure.filter((e) => !cidrs.includes(e)))
      indexConfigs[name] = { Name: name, Mirrors: [], Secure: false, Official: false };
    return {
      ID: this.engineId(),
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: engine.images.list({ all: true }).length,
      Driver: 'overlay2',
      DriverStatus: overlayStatus(engine.root),
      Plugins: {
        Volume: ['local'],
        Network: [...networkDrivers].sort(),
        Authorization: null,
        Log: ['json-file'],
      },
      MemoryLimit: true,
      SwapLimit: swap,
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: forwarding,
      Debug: !!process.env.BERTH_DEBUG,
      NFd: openFds(),
      OomKillDisable: cg.version === 1,
      NGoroutines: 0,
      SystemTime: rfc3339Nano(new Date().toISOString()),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: String(cg.version),
      NEventsListener: 0,
      KernelVersion: h.kernel,
      OperatingSystem: osr.name,
      OSVersion: osr.version,
      OSType: 'linux',
      Architecture: h.machine,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        IndexConfigs: indexConfigs,
        // loopback is always insecure, as for dockerd
        InsecureRegistryCIDRs: cidrs.length ? cidrs : ['127.0.0.0/8'],
        Mirrors: reg.mirrors ?? [],
      },
      NCPU: h.ncpu,
      MemTotal: h.memTotal,
      GenericResources: null,
      DockerRootDir: engine.root,
      HttpProxy: reg.proxies?.httpProxy ?? '',
      HttpsProxy: reg.proxies?.httpsProxy ?? '',
      NoProxy: reg.proxies?.noProxy ?? '',
      Name: h.name,
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: {
        [DEFAULT_RUNTIME]: { path: helperOrEmpty() },
        ...(runc.version ? { runc: { path: 'runc' } } : {}),
      },
      DefaultRuntime: DEFAULT_RUNTIME,
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: false,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: runc.commit, Expected: runc.commit },
      InitCommit: { ID: '', Expected: '' },
      // every container gets Docker's seccomp profile (berth's own BPF of it) and its own cgroup namespace
      SecurityOptions: ['name=seccomp,profile=builtin', 'name=cgroupns'],
      Warnings: warnings.length ? warnings : null,
    };
  }

  /**
   * GET /system/df: images (shared and unique sizes, containers using each), containers with their rw layer's
   * size, volumes with their usage, and as build cache the partial downloads interrupted pulls kept.
   */
  async df(): Promise<DiskUsage> {
    const engine = this.engine;
    const images = engine.images.systemDf();
    const containers = await engine.containers.list({ all: true, size: true });
    return {
      LayersSize: images.LayersSize,
      Images: images.Images,
      Containers: containers,
      Volumes: engine.volumes.usage(),
      BuildCache: this.buildCache(),
    };
  }

  /**
   * berth's build cache: the partial downloads of interrupted pulls (berth/partial/), which the next pull of the
   * same blob resumes from. The classic builder's cache, the intermediate images of builds, stays with the
   * images (`images -a`, `image prune`), as it does for dockerd's classic builder.
   */
  buildCache(): BuildCacheRecord[] {
    return listPartials(this.engine.store.paths).map((p) => ({
      ID: p.digest ?? p.name,
      Parent: '',
      Type: 'partial-download',
      Description: `pull of ${p.digest ?? p.name}, interrupted`,
      InUse: p.inUse,
      Shared: false,
      Size: p.size,
      CreatedAt: rfc3339Nano(new Date(p.mtimeMs).toISOString()),
      LastUsedAt: rfc3339Nano(new Date(p.mtimeMs).toISOString()),
      UsageCount: 1,
    }));
  }

  /**
   * POST /build/prune: the build cache (above) no pull holds; `until` keeps what was written since. `all` changes
   * nothing: none of it is shared with anything else.
   */
  async buildPrune(opts: { filters?: Filters; all?: boolean } = {}): Promise<BuildCachePruneResponse> {
    const r = await this.engine.images.prunePartials({ filters: opts.filters ?? new Map() });
    return { CachesDeleted: r.PartialsDeleted.length ? r.PartialsDeleted : null, SpaceReclaimed: r.SpaceReclaimed };
  }

  /** The engine's ID: a UUID made once per data root (berth/engine-id, as dockerd 23+ keeps its engine-id). */
  private engineId(): string {
    const file = `${this.engine.store.paths.berth}/engine-id`;
    const read = () => fs.readFileSync(file, 'utf8').trim();
    try {
      return read();
    } catch {
      // made below
    }
    const tmp = `${file}.${process.pid}.tmp`;
    fs.mkdirSync(this.engine.store.paths.berth, { recursive: true });
    fs.writeFileSync(tmp, `${randomUUID()}\n`);
    try {
      fs.linkSync(tmp, file); // the first writer wins; another process's id is kept
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return read();
  }
}

function helperOrEmpty(): string {
  try {
    return helperPath();
  } catch {
    return '';
  }
}

function openFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}
