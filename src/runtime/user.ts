import { invalid, notFound } from '../core/errors.js';
import { readInRoot } from './rootfs-path.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const MAX_ID = 2 ** 32 - 2;
const isNum = (s: string) => /^\d+$/.test(s);

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) continue; // malformed lines are skipped, as libc does
    if (!isNum(f[2]!) || !isNum(f[3]!)) continue; // as glibc: only plain decimal ids
    const uid = Number(f[2]), gid = Number(f[3]);
    if (uid > MAX_ID || gid > MAX_ID) continue;
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
    if (gid > MAX_ID) continue;
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
  // an oversized file fails only a lookup by name; numeric ids (and no -u) just lose its defaults (HOME, gid)
  const read = (path: string, byName: boolean) => {
    try { return readInRoot(rootfs, path); } catch (err) { if (byName) throw err; return undefined; }
  };
  const passwd = parsePasswd(read('/etc/passwd', !isNum(u)));
  const groups = parseGroup(read('/etc/group', (g !== undefined && g !== '' && !isNum(g)) || groupAdd.some((x) => !isNum(x))));
  let uid: number, gid: number, home = '/', name: string | undefined;
  const byUser = isNum(u) ? passwd.find((p) => p.uid === Number(u)) : passwd.find((p) => p.name === u);
  if (isNum(u)) {
    uid = Number(u);
    if (uid > MAX_ID) throw invalid('invalid_user', `uid ${u} is out of range`);
    gid = byUser?.gid ?? 0;
  } else {
    if (!byUser) throw notFound('user_not_found', `unable to find user ${u}: no matching entries in passwd file`);
    uid = byUser.uid;
    gid = byUser.gid;
  }
  if (byUser) { home = byUser.home || '/'; name = byUser.name; }
  if (g !== undefined && g !== '') {
    if (isNum(g)) gid = Number(g);
    else {
      const gr = groups.find((x) => x.name === g);
      if (!gr) throw notFound('group_not_found', `unable to find group ${g}: no matching entries in group file`);
      gid = gr.gid;
    }
  }
  // as runc does: the primary group is a supplementary group too when /etc/group has it
  const extra = new Set<number>(groups.some((gr) => gr.gid === gid) ? [gid] : []);
  if (name && g === undefined) for (const gr of groups) if (gr.members.includes(name)) extra.add(gr.gid);
  for (const a of groupAdd) {
    if (isNum(a)) extra.add(Number(a));
    else {
      const gr = groups.find((x) => x.name === a);
      if (!gr) throw notFound('group_not_found', `unable to find group ${a}: no matching entries in group file`);
      extra.add(gr.gid);
    }
  }
  return { uid, gid, additionalGids: [...extra], home };
}
