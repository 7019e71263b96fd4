import * as fs from 'node:fs';
import { conflict, forbidden, invalid, notFound } from '../core/errors.js';
import { filtersFromMap, matchKVList, matchLabels, untilFilter, validateFilters } from '../core/filters.js';
import {
  attachedTo,
  removeNetworkHostSide,
  endpointOf,
  bridgeOf,
  createBridge,
  checkBridgeOptions,
} from '../network/attach.js';
import { BRIDGE_NAME, CONFLIST_PATH, RESULTS_DIR, chooseSubnet, parseProcRoutes } from '../network/bridge.js';
import type { CniResult, ConfList } from '../network/cni.js';
import { checkMac, isUserNetwork, networksOf, type EndpointConfig } from '../network/endpoints.js';
import { checkNetworkName, NetworkStore, PREDEFINED, predefinedRecord, type NetworkRecord } from '../network/store.js';
import {
  checkAddress,
  chooseFreeSubnet,
  ipamConfig,
  parseCidr,
  type Cidr,
  type IpamConfig,
} from '../network/subnets.js';
import { hexId } from '../network/settings.js';
import type { Engine } from './engine.js';

export type { NetworkRecord } from '../network/store.js';

/** POST /networks/create. */
export interface NetworkCreateOptions {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** What `network inspect` shows of an attached container. */
export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

export type NetworkInspect = NetworkRecord & { Containers: Record<string, NetworkContainer> };

const LIST_FILTERS = ['name', 'id', 'label', 'driver', 'dangling', 'type', 'scope'];
const PRUNE_FILTERS = ['label', 'label!', 'until'];

/**
 * Networks, as dockerd's /networks endpoints: the predefined bridge, host and
 * none, and user-defined bridge networks (network/store.ts) whose containers
 * find each other by name (aardvark-dns, network/dns.ts). A network is in use
 * while a running container is attached to it (its active endpoints, as
 * dockerd counts them): only then is removal refused.
 */
export class Networks {
  constructor(readonly engine: Engine) {}

  private get store(): NetworkStore {
    return new NetworkStore(this.engine.root);
  }

  /** The default bridge's IPAM config once it has chosen its subnet. */
  private bridgeIpam(): IpamConfig | undefined {
    try {
      const list = JSON.parse(fs.readFileSync(CONFLIST_PATH, 'utf8')) as ConfList;
      const r = (list.plugins[0]!.ipam as { ranges: Array<Array<{ subnet: string; gateway: string }>> }).ranges[0]![0]!;
      return { Subnet: r.subnet, Gateway: r.gateway };
    } catch {
      return undefined;
    }
  }

  /** Every network: the predefined ones, then the user's. */
  private all(): NetworkRecord[] {
    const ipam = this.bridgeIpam();
    return [...PREDEFINED.map((n) => predefinedRecord(n, ipam)), ...this.store.list()];
  }

  /** A network by name, id or id prefix (NotFound otherwise). */
  private find(ref: string): NetworkRecord {
    if ((PREDEFINED as readonly string[]).includes(ref)) return predefinedRecord(ref as 'bridge', this.bridgeIpam());
    const pre = this.all()
      .slice(0, 3)
      .find((n) => n.Id === ref || (ref.length >= 12 && n.Id.startsWith(ref)));
    if (pre) return pre;
    const n = this.store.find(ref);
    if (!n) throw notFound('network_not_found', `network ${ref} not found`);
    return n;
  }

  /** The containers attached to a network, as inspect shows them. */
  private containersOf(n: NetworkRecord): Record<string, NetworkContainer> {
    const out: Record<string, NetworkContainer> = {};
    if (n.Name === 'bridge') return this.bridgeContainers();
    if (!isUserNetwork(n.Name)) return out;
    for (const { container, attachment } of attachedTo(n.Id)) {
      const ep = endpointOf(attachment);
      out[container] = {
        Name: this.engine.containerStore.tryGet(container)?.Name.replace(/^\//, '') ?? '',
        EndpointID: ep.IPAddress ? hexId(`${container}/${n.Name}/${ep.IPAddress}`) : '',
        MacAddress: ep.MacAddress,
        IPv4Address: ep.IPAddress ? `${ep.IPAddress}/${ep.IPPrefixLen}` : '',
        IPv6Address: '',
      };
    }
    return out;
  }

  /** The default bridge's containers, from the CNI results kept for DEL. */
  private bridgeContainers(): Record<string, NetworkContainer> {
    const out: Record<string, NetworkContainer> = {};
    for (const f of fs.existsSync(RESULTS_DIR) ? fs.readdirSync(RESULTS_DIR) : []) {
      const m = /^([0-9a-f]{64})\.json$/.exec(f);
      if (!m) continue;
      let result: CniResult | undefined;
      try {
        result = (JSON.parse(fs.readFileSync(`${RESULTS_DIR}/${f}`, 'utf8')) as { result?: CniResult }).result;
      } catch {
        continue; // removed meanwhile
      }
      const ip = result?.ips?.find((i) => !i.address.includes(':'));
      if (!ip) continue;
      const iface = ip.interface !== undefined ? result?.interfaces?.[ip.interface] : undefined;
      const c = this.engine.containerStore.tryGet(m[1]!);
      if (!c) continue; // another data root's container
      out[m[1]!] = {
        Name: c.Name.replace(/^\//, ''),
        EndpointID: hexId(`${m[1]}/bridge/${ip.address.split('/')[0]}`),
        MacAddress: iface?.mac ?? '',
        IPv4Address: ip.address,
        IPv6Address: '',
      };
    }
    return out;
  }

  /** GET /networks: filters name (substring), id (prefix), label, driver, type (builtin|custom), dangling. */
  list(opts: { filters?: Record<string, string[]> } = {}): NetworkInspect[] {
    const f = filtersFromMap(opts.filters);
    validateFilters(f, LIST_FILTERS);
    const names = [...(f.get('name') ?? [])];
    const ids = [...(f.get('id') ?? [])];
    const drivers = f.get('driver');
    const types = f.get('type');
    for (const t of types ?? [])
      if (t !== 'builtin' && t !== 'custom') throw invalid('invalid_filter', `invalid filter: 'type'='${t}'`);
    const dangling = f.get('dangling');
    let wantDangling: boolean | undefined;
    if (dangling) {
      const v = [...dangling];
      if (v.length !== 1 || !['true', 'false', '1', '0'].includes(v[0]!))
        throw invalid('invalid_filter', `invalid filter 'dangling=${v.join(',')}'`);
      wantDangling = v[0] === 'true' || v[0] === '1';
    }
    return this.all()
      .filter((n) => {
        const builtin = !isUserNetwork(n.Name);
        if (names.length && !names.some((x) => n.Name.includes(x))) return false;
        if (ids.length && !ids.some((x) => n.Id.startsWith(x))) return false;
        if (drivers && !drivers.has(n.Driver)) return false;
        if (types && !types.has(builtin ? 'builtin' : 'custom')) return false;
        if (!matchKVList(f, 'label', n.Labels)) return false;
        if (wantDangling !== undefined) {
          const unused = !builtin && attachedTo(n.Id).length === 0;
          if (unused !== wantDangling) return false;
        }
        return true;
      })
      .map((n) => inspectShape(n, {}));
  }

  /** GET /networks/{id}. */
  inspect(ref: string): NetworkInspect {
    const n = this.find(ref);
    return inspectShape(n, this.containersOf(n));
  }

  /** Subnets of every network, and the default bridge's (the one it will choose if it has none yet). */
  private takenSubnets(routes: ReturnType<typeof parseProcRoutes>): Cidr[] {
    const taken = this.store.list().map((n) => parseCidr(n.IPAM.Config[0]!.Subnet)!);
    const b = this.bridgeIpam();
    if (b) taken.push(parseCidr(b.Subnet)!);
    else {
      try {
        taken.push(parseCidr(chooseSubnet(routes).subnet)!);
      } catch {
        /* no room for the bridge either: nothing to keep free */
      }
    }
    return taken;
  }

  /** POST /networks/create: a bridge network, its subnet given or chosen as dockerd does. */
  async create(opts: NetworkCreateOptions): Promise<{ Id: string; Warning: string }> {
    if (!opts.Name) throw invalid('usage', 'network create: a name is required');
    checkNetworkName(opts.Name);
    const driver = opts.Driver || 'bridge';
    if (driver !== 'bridge')
      throw invalid('unsupported', `network driver ${JSON.stringify(driver)}: berth has "bridge" only`);
    if (opts.IPAM?.Driver && opts.IPAM.Driver !== 'default')
      throw invalid('unsupported', `IPAM driver ${JSON.stringify(opts.IPAM.Driver)}: berth has "default" only`);
    const configs = opts.IPAM?.Config ?? [];
    if (configs.length > 1) throw invalid('unsupported', 'network create: one IPv4 subnet per network');
    const options = { ...(opts.Options ?? {}) };
    const rec = await this.engine.store.lock(() => {
      checkBridgeOptions(options, this.store.list().map(bridgeOf), (name) => fs.existsSync(`/sys/class/net/${name}`));
      const routes = parseProcRoutes(fs.readFileSync('/proc/net/route', 'utf8'));
      const mine = new Set([BRIDGE_NAME, ...this.store.list().map(bridgeOf)]);
      const taken = this.takenSubnets(routes);
      const c = configs[0] ?? {};
      const ipam = ipamConfig(
        {
          ...(c.Subnet ? { subnet: c.Subnet } : {}),
          ...(c.Gateway ? { gateway: c.Gateway } : {}),
          ...(c.IPRange ? { ipRange: c.IPRange } : {}),
        },
        () => chooseFreeSubnet(routes, taken, (i) => mine.has(i)),
        taken,
      );
      return this.store.add({
        Name: opts.Name,
        Scope: 'local',
        Driver: 'bridge',
        EnableIPv6: false,
        IPAM: { Driver: 'default', Options: {}, Config: [ipam] },
        Internal: !!opts.Internal,
        Attachable: false,
        Ingress: false,
        ConfigFrom: { Network: '' },
        ConfigOnly: false,
        Options: options,
        Labels: { ...(opts.Labels ?? {}) },
      });
    });
    try {
      // made now, as dockerd does: its route shows the subnet as taken to whatever chooses one next
      await createBridge(rec);
    } catch (err) {
      this.store.remove(rec.Id);
      await removeNetworkHostSide(rec).catch(() => {});
      throw err;
    }
    this.engine.events.emit('network', 'create', rec.Id, { name: rec.Name, type: rec.Driver });
    return { Id: rec.Id, Warning: '' };
  }

  /** DELETE /networks/{id}: never a predefined network, nor one with running containers. */
  async remove(ref: string): Promise<void> {
    const n = await this.engine.store.lock(() => {
      const found = this.find(ref);
      if (!isUserNetwork(found.Name))
        throw forbidden('predefined_network', `${found.Name} is a pre-defined network and cannot be removed`);
      if (attachedTo(found.Id).length)
        throw conflict(
          'network_in_use',
          `error while removing network: network ${found.Name} id ${found.Id} has active endpoints`,
        );
      this.store.remove(found.Id);
      return found;
    });
    await removeNetworkHostSide(n);
    this.engine.events.emit('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
  }

  /** POST /networks/prune: every user network without running containers that the filters keep. */
  async prune(opts: { filters?: Record<string, string[]> } = {}): Promise<{ NetworksDeleted: string[] }> {
    const f = filtersFromMap(opts.filters);
    validateFilters(f, PRUNE_FILTERS);
    const until = untilFilter(f);
    const gone = await this.engine.store.lock(() =>
      this.store
        .list()
        .filter((n) => matchLabels(f, n.Labels) && (until === undefined || Date.parse(n.Created) < until))
        .filter((n) => attachedTo(n.Id).length === 0)
        .map((n) => {
          this.store.remove(n.Id);
          return n;
        }),
    );
    for (const n of gone) {
      await removeNetworkHostSide(n);
      this.engine.events.emit('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
    }
    return { NetworksDeleted: gone.map((n) => n.Name) };
  }

  /** POST /networks/{id}/connect: the container joins the network (at once if it runs, else at its next start). */
  async connect(ref: string, container: string, cfg: EndpointConfig = {}): Promise<void> {
    const n = this.find(ref);
    if (!isUserNetwork(n.Name))
      throw invalid(
        'unsupported',
        `network connect: berth connects containers to user-defined networks only, not ${n.Name}`,
      );
    const cs = this.engine.containerStore;
    const c = cs.resolve(container);
    const hc = cs.hostConfig(c.ID);
    if (hc.NetworkMode === 'none' || hc.NetworkMode === 'host' || hc.NetworkMode.startsWith('container:'))
      throw invalid(
        'conflicting_network',
        `container ${c.Name.replace(/^\//, '')} has network mode ${hc.NetworkMode}: it cannot join other networks`,
      );
    const current = networksOf(hc);
    if (current.some((x) => x.name === n.Name))
      throw conflict(
        'endpoint_exists',
        `endpoint with name ${c.Name.replace(/^\//, '')} already exists in network ${n.Name}`,
      );
    const want: EndpointConfig = {};
    if (cfg.Aliases?.length) want.Aliases = cfg.Aliases.filter(Boolean);
    if (cfg.IPAMConfig?.IPv4Address) {
      checkAddress(cfg.IPAMConfig.IPv4Address, n.IPAM.Config[0]!, n.Name);
      want.IPAMConfig = { IPv4Address: cfg.IPAMConfig.IPv4Address };
    }
    if (cfg.MacAddress) want.MacAddress = checkMac(cfg.MacAddress);
    const endpoints = Object.fromEntries([...current.map((x) => [x.name, x.config] as const), [n.Name, want]]);
    await cs.update(c.ID, (_r, h) => {
      h.BerthEndpoints = endpoints;
    });
    const live = cs.tryGet(c.ID);
    const connected = () =>
      this.engine.events.emit('network', 'connect', n.Id, { container: c.ID, name: n.Name, type: n.Driver });
    if (!live?.State.Running) return connected();
    const { connectRunning } = await import('../container/network.js');
    try {
      const settings = await connectRunning(cs, live, n.Name);
      await cs.update(c.ID, (r) => {
        r.NetworkSettings = settings;
      });
      connected();
    } catch (err) {
      await cs.update(c.ID, (_r, h) => {
        h.BerthEndpoints = Object.fromEntries(current.map((x) => [x.name, x.config]));
      });
      throw err;
    }
  }

  /** POST /networks/{id}/disconnect. */
  async disconnect(ref: string, container: string, _opts: { force?: boolean } = {}): Promise<void> {
    const n = this.find(ref);
    const cs = this.engine.containerStore;
    const c = cs.resolve(container);
    const hc = cs.hostConfig(c.ID);
    const current = networksOf(hc);
    if (!current.some((x) => x.name === n.Name))
      throw invalid('not_connected', `container ${c.ID} is not connected to network ${n.Name}`);
    const live = cs.tryGet(c.ID);
    if (!isUserNetwork(n.Name) && live?.State.Running)
      throw invalid(
        'unsupported',
        `network disconnect: berth disconnects a running container from user-defined networks only`,
      );
    if (live?.State.Running) {
      const { disconnectRunning } = await import('../container/network.js');
      const settings = await disconnectRunning(cs, live, n.Id);
      await cs.update(c.ID, (r) => {
        r.NetworkSettings = settings;
      });
    }
    await cs.update(c.ID, (_r, h) => {
      h.BerthEndpoints = Object.fromEntries(current.filter((x) => x.name !== n.Name).map((x) => [x.name, x.config]));
    });
    this.engine.events.emit('network', 'disconnect', n.Id, { container: c.ID, name: n.Name, type: n.Driver });
  }
}

/** A network as `network inspect` prints it: Docker's field order (pure). */
export function inspectShape(n: NetworkRecord, containers: Record<string, NetworkContainer>): NetworkInspect {
  return {
    Name: n.Name,
    Id: n.Id,
    Created: n.Created,
    Scope: n.Scope,
    Driver: n.Driver,
    EnableIPv6: n.EnableIPv6,
    IPAM: n.IPAM,
    Internal: n.Internal,
    Attachable: n.Attachable,
    Ingress: n.Ingress,
    ConfigFrom: n.ConfigFrom,
    ConfigOnly: n.ConfigOnly,
    Containers: containers,
    Options: n.Options,
    Labels: n.Labels,
  };
}
