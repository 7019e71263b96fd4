/**
 * WWW-Authenticate challenges (RFC 7235) as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`
 * or `Basic realm="Registry Realm"`. Several challenges may share one header. Pure.
 */
export interface Challenge {
  /** Lower-case scheme: "bearer", "basic". */
  scheme: string;
  /** Parameters by lower-case name. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parse one or more WWW-Authenticate header values; malformed parts are skipped, never thrown on. */
export function parseChallenges(values: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const v of Array.isArray(values) ? values : values === undefined ? [] : [values]) out.push(...parseOne(v));
  return out;
}

function parseOne(header: string): Challenge[] {
  const out: Challenge[] = [];
  let s = header;
  let cur: Challenge | undefined;
  const skip = (re: RegExp) => {
    const m = re.exec(s);
    if (m) s = s.slice(m[0].length);
  };
  while (s.length > 0) {
    skip(/^[\s,]+/);
    const tok = TOKEN.exec(s)?.[0];
    if (!tok) {
      // unparseable: drop the rest of this header
      break;
    }
    s = s.slice(tok.length);
    skip(/^[ \t]*/);
    if (s.startsWith('=') && cur) {
      s = s.slice(1);
      skip(/^[ \t]*/);
      cur.params[tok.toLowerCase()] = readValue();
      continue;
    }
    cur = { scheme: tok.toLowerCase(), params: {} };
    out.push(cur);
  }
  return out;

  function readValue(): string {
    if (!s.startsWith('"')) {
      const v = TOKEN.exec(s)?.[0] ?? '';
      s = s.slice(v.length);
      return v;
    }
    let v = '';
    let i = 1;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < s.length) v += s[++i];
      else if (c === '"') break;
      else v += c;
    }
    s = s.slice(i + 1);
    return v;
  }
}
