import { invalid, notFound } from '../core/errors.js';
import { readInRoot } from './rootfs-path.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** What /etc/passwd and /etc/group may hold (the kernel's largest id; (uid_t)-1 means "unchanged"). */
const MAX_FILE_ID = 2 ** 32 - 2;
/** What Docker accepts in `-u`, an image's User and --group-add (moby/sys/user): ids that fit a signed 32-bit int. */
export const MAX_ID = 2 ** 31 - 1;
const isNum = (s: string) => /^\d+$/.test(s);

/**
 * A user or group of a user spec as Go's strconv.Atoi reads it, which Docker
 * uses: a number (optional sign, decimal digits) is an id and must be in
 * 0..MAX_ID, anything else is a name.
 */
export function parseId(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  if (!(n >= 0 && n <= MAX_ID)) throw invalid('id_out_of_range', `uids and gids must be in range 0-${MAX_ID}`);
  return n || 0; // "-0" is 0, not -0
}

/**
 * Refuse what resolveUser would refuse without the image's files: a numeric
 * user or group outside Docker's range, in the spec (`-u`, an image's User) or
 * --group-add. Checked when a container is made, so nothing is stored for it.
 */
export function checkUserSpec(spec: string | undefined, groupAdd: readonly string[] = []): void {
  const [u = '', g = ''] = (spec ?? '').split(':', 2);
  for (const part of [u, g, ...groupAdd]) parseId(part);
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue; // malformed lines are skipped, as libc does
    if (!isNum(f[2]!) || !isNum(f[3]!)) continue; // as glibc: only plain decimal ids
    const uid = Number(f[2]),
      gid = Number(f[3]);
    if (uid > MAX_FILE_ID || gid > MAX_FILE_ID) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5]! });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    if (!isNum(f[2]!)) continue;
    const gid = Number(f[2]);
    if (gid > MAX_FILE_ID) continue;
    out.push({ name: f[0]!, gid, members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

/**
 * Docker's `-u user[:group]` semantics against the image's /etc/passwd and
 * /etc/group (read inside the rootfs, size-limited): names must exist, numeric
 * ids need not; supplementary groups are those listing the user; the home
 * directory defaults to "/".
 */
export function resolveUser(rootfs: string, spec: string | undefined, groupAdd: string[] = []): ResolvedUser {
  const [u = '', g] = (spec || '0').split(':', 2);
  const uidArg = parseId(u);
  const gidArg = g ? parseId(g) : undefined;
  const addIds = groupAdd.map(parseId);
  // an oversized file fails only a lookup by name; numeric ids (and no -u) just lose its defaults (HOME, gid)
  const read = (path: string, byName: boolean) => {
    try {
      return readInRoot(rootfs, path);
    } catch (err) {
      if (byName) throw err;
      return undefined;
    }
  };
  const passwd = parsePasswd(read('/etc/passwd', uidArg === undefined));
  const groups = parseGroup(read('/etc/group', (!!g && gidArg === undefined) || addIds.some((x) => x === undefined)));
  let uid: number,
    gid: number,
    home = '/',
    name: string | undefined;
  const byUser = uidArg !== undefined ? passwd.find((p) => p.uid === uidArg) : passwd.find((p) => p.name === u);
  if (uidArg !== undefined) {
    uid = uidArg;
    gid = byUser?.gid ?? 0;
  } else {
    if (!byUser) throw notFound('user_not_found', `unable to find user ${u}: no matching entries in passwd file`);
    uid = byUser.uid;
    gid = byUser.gid;
  }
  if (byUser) {
    home = byUser.home || '/';
    name = byUser.name;
  }
  if (g) {
    if (gidArg !== undefined) gid = gidArg;
    else {
      const gr = groups.find((x) => x.name === g);
      if (!gr) throw notFound('group_not_found', `unable to find group ${g}: no matching entries in group file`);
      gid = gr.gid;
    }
  }
  // as runc does: the primary group is a supplementary group too when /etc/group has it
  const extra = new Set<number>(groups.some((gr) => gr.gid === gid) ? [gid] : []);
  if (name && g === undefined) for (const gr of groups) if (gr.members.includes(name)) extra.add(gr.gid);
  groupAdd.forEach((a, i) => {
    const id = addIds[i];
    if (id !== undefined) {
      extra.add(id);
      return;
    }
    const gr = groups.find((x) => x.name === a);
    if (!gr) throw notFound('group_not_found', `unable to find group ${a}: no matching entries in group file`);
    // as Docker: a group named by --group-add is refused when its id is out of range
    parseId(String(gr.gid));
    extra.add(gr.gid);
  });
  return { uid, gid, additionalGids: [...extra], home };
}
