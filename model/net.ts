// IPv4 arithmetic for the mesh subnet and gluster's auth.allow patterns.

export function ipv4ToInt(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export interface Cidr {
  network: number;
  broadcast: number;
  prefix: number;
}

export function parseCidr(s: string): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = ipv4ToInt(m[1]);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix < 8 || prefix > 30) return undefined;
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  if ((ip & mask) >>> 0 !== ip) return undefined; // host bits set: not a network address
  return { network: ip, broadcast: (ip | (~mask >>> 0)) >>> 0, prefix };
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.network && ip <= c.broadcast;
}

/** Does one auth.allow pattern (an address, a `10.1.*` wildcard or a CIDR) admit this address? */
export function addressMatches(pattern: string, ip: string): boolean {
  if (pattern === "*") return true;
  if (pattern.includes("/")) {
    const c = parseCidr(pattern);
    const n = ipv4ToInt(ip);
    return c !== undefined && n !== undefined && cidrContains(c, n);
  }
  const re = new RegExp("^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[0-9.]*") + "$");
  return re.test(ip);
}
