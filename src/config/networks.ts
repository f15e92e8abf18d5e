// Addresses and networks for --forwarded-allow-ips: `127.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`,
// `*`. Pure: parsing and matching, no I/O. An IPv4 peer seen as `::ffff:a.b.c.d` (a dual-stack
// socket) matches the IPv4 entries.
import { isIP } from "../sockets/ip.ts";

/** One entry: a family and the leading `bits` of `bytes` that must match. */
interface Network {
  v6: boolean;
  bytes: Uint8Array;
  bits: number;
}

function ipBytes(ip: string): Uint8Array | null {
  const family = isIP(ip);
  if (family === 4) return Uint8Array.from(ip.split(".").map(Number));
  if (family !== 6) return null;
  // Expand `::` and a trailing dotted IPv4 part into eight 16-bit groups.
  let s = ip.toLowerCase();
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const b = v4[1].split(".").map(Number);
    s = s.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head ? head.split(":") : [], t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
  });
  return out;
}

/** Parses `ADDR` or `ADDR/BITS`; null when it is neither. */
export function parseNetwork(spec: string): Network | null {
  const [addr, bitsText, extra] = spec.trim().split("/");
  if (extra !== undefined) return null;
  const bytes = ipBytes(addr);
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (bits > max) return null;
  return { v6: bytes.length === 16, bytes, bits };
}

function contains(n: Network, ip: Uint8Array): boolean {
  if ((ip.length === 16) !== n.v6) return false;
  let bits = n.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & mask) !== (n.bytes[i] & mask)) return false;
  }
  return true;
}

/** A predicate over peer addresses for a list of entries (already validated). */
export function peerMatcher(entries: readonly string[]): (address: string) => boolean {
  if (entries.some((e) => e.trim() === "*")) return () => true;
  const networks = entries.map(parseNetwork).filter((n): n is Network => n !== null);
  if (networks.length === 0) return () => false;
  const exact = new Set(entries.map((e) => e.trim().toLowerCase())); // the common case, without parsing the peer
  const seen = new Map<string, boolean>();
  return (address) => {
    const a = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
    if (exact.has(a)) return true;
    let hit = seen.get(a);
    if (hit === undefined) {
      const ip = ipBytes(a);
      hit = ip !== null && networks.some((n) => contains(n, ip));
      if (seen.size >= 1024) seen.clear(); // a scan from many addresses must not grow it
      seen.set(a, hit);
    }
    return hit;
  };
}
