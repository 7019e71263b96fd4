import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { conflict, corrupt, invalid, notFound } from '../core/errors.js';
import { writeFileAtomic } from '../storage/fsutil.js';
import type { IpamConfig } from './subnets.js';
import { hexId } from './settings.js';

/**
 * User-defined networks' definitions, kept in the data root as one JSON file
 * per network: berth/networks/<id>.json (dockerd keeps them in a bbolt
 * database, network/files/local-kv.db, which berth does not write). Each holds
 * what `network inspect` shows but its Containers (those are found in
 * /run/berth, where the attachments live). The predefined bridge, host and
 * none are not stored: they always exist and cannot be removed.
 */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string>; Config: IpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export const PREDEFINED = ['bridge', 'host', 'none'] as const;

/** Docker's rule for network names. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkNetworkName(name: string): void {
  if (!NAME_RE.test(name))
    throw invalid(
      'invalid_network_name',
      `invalid network name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
}

/** The stable id of a predefined network (as settings.ts gives it in NetworkSettings). */
export const predefinedId = (name: string): string => hexId(`network/${name}`);

/** A predefined network's record (bridge with the default bridge's subnet when it has one). */
export function predefinedRecord(name: (typeof PREDEFINED)[number], bridgeIpam: IpamConfig | undefined): NetworkRecord {
  return {
    Name: name,
    Id: predefinedId(name),
    Created: '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: name === 'none' ? 'null' : name,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: name === 'bridge' && bridgeIpam ? [bridgeIpam] : [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Options:
      name === 'bridge'
        ? {
            'com.docker.network.bridge.default_bridge': 'true',
            'com.docker.network.bridge.enable_ip_masquerade': 'true',
            'com.docker.network.bridge.name': 'berth0',
          }
        : {},
    Labels: {},
  };
}

export class NetworkStore {
  readonly dir: string;
  constructor(root: string) {
    this.dir = `${root}/berth/networks`;
  }

  /** Every stored (user-defined) network, oldest first. */
  list(): NetworkRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: NetworkRecord[] = [];
    for (const f of names) {
      if (!/^[0-9a-f]{64}\.json$/.test(f)) continue;
      const path = `${this.dir}/${f}`;
      try {
        out.push(JSON.parse(fs.readFileSync(path, 'utf8')) as NetworkRecord);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        throw corrupt('corrupt_network', `read network ${JSON.stringify(path)}: ${(err as Error).message}`, err);
      }
    }
    return out.sort((a, b) => a.Created.localeCompare(b.Created));
  }

  /** A network by full name, full id, or unique id prefix (Docker's order); undefined if none. */
  find(ref: string): NetworkRecord | undefined {
    const all = this.list();
    const byName = all.find((n) => n.Name === ref);
    if (byName) return byName;
    const byId = all.find((n) => n.Id === ref);
    if (byId) return byId;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const prefixed = all.filter((n) => n.Id.startsWith(ref));
    if (prefixed.length > 1)
      throw invalid(
        'ambiguous_network',
        `network ${JSON.stringify(ref)} is ambiguous (${prefixed.length} matches found)`,
      );
    return prefixed[0];
  }

  require(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound('network_not_found', `network ${ref} not found`);
    return n;
  }

  /** Store a new network (the caller holds the store lock); its name must be free. */
  add(rec: Omit<NetworkRecord, 'Id' | 'Created'>): NetworkRecord {
    if ((PREDEFINED as readonly string[]).includes(rec.Name) || this.list().some((n) => n.Name === rec.Name))
      throw conflict('network_exists', `network with name ${rec.Name} already exists`);
    const full: NetworkRecord = { ...rec, Id: randomBytes(32).toString('hex'), Created: new Date().toISOString() };
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(`${this.dir}/${full.Id}.json`, `${JSON.stringify(full, null, 2)}\n`, 0o600);
    return full;
  }

  remove(id: string): void {
    fs.rmSync(`${this.dir}/${id}.json`, { force: true });
  }
}
