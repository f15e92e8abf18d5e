// Parses bind addresses (gunicorn's forms) and encodes/decodes sockaddr structs. Pure: no I/O.
import { isIP } from "./ip.ts";
import { AddressError } from "../errors.ts";

export type BindAddress =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "fd"; fd: number };

const DEFAULT_PORT = 8000;
const UNIX_PATH_MAX = 107; // sun_path is 108 bytes including the NUL

/** `HOST:PORT`, `[v6]:PORT`, `HOST`, `PORT`, `unix:/path`, `fd://N`. */
export function parseAddress(spec: string): BindAddress {
  const bad = (why: string) => new AddressError(`Invalid bind address "${spec}": ${why}`);
  const s = spec.trim();
  if (s === "") throw bad("it is empty");
  if (s.startsWith("unix:")) {
    const path = s.slice(5).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw bad("the unix socket path is empty");
    if (new TextEncoder().encode(path).length > UNIX_PATH_MAX) throw bad(`the unix socket path is longer than ${UNIX_PATH_MAX} bytes`);
    return { kind: "unix", path };
  }
  if (s.startsWith("fd://")) {
    const fd = Number(s.slice(5));
    if (!/^\d+$/.test(s.slice(5)) || fd < 3) throw bad("expected fd://N with N a file descriptor number of 3 or more");
    return { kind: "fd", fd };
  }
  let host: string, portText: string | undefined;
  const v6 = s.match(/^\[([^\]]*)\](?::(.*))?$/);
  if (v6) {
    [host, portText] = [v6[1], v6[2]];
    if (isIP(host) !== 6) throw bad(`"${host}" is not an IPv6 address`);
  } else if (/^\d+$/.test(s)) {
    [host, portText] = ["127.0.0.1", s];
  } else {
    const i = s.lastIndexOf(":");
    if (i !== -1 && s.indexOf(":") !== i) throw bad("an IPv6 address must be written in brackets, e.g. [::1]:8000");
    [host, portText] = i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
    if (host === "") host = "0.0.0.0";
    if (!isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) {
      throw bad(`"${host}" is not a host name or IP address`);
    }
  }
  if (portText === undefined) return { kind: "tcp", host, port: DEFAULT_PORT };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw bad(`port must be a number between 0 and 65535 (got "${portText}")`);
  return { kind: "tcp", host, port };
}

/** The address as gunicorn prints it in `Listening at:`. */
export function formatUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** sockaddr_in / sockaddr_in6 for a numeric IP address. */
export function encodeInet(ip: string, port: number): Uint8Array {
  if (isIP(ip) === 4) {
    const b = new Uint8Array(16), v = new DataView(b.buffer);
    v.setUint16(0, 2, true); // AF_INET, host byte order
    v.setUint16(2, port, false);
    b.set(ip.split(".").map(Number), 4);
    return b;
  }
  const b = new Uint8Array(28), v = new DataView(b.buffer);
  v.setUint16(0, 10, true); // AF_INET6
  v.setUint16(2, port, false);
  b.set(ipv6Bytes(ip), 8);
  return b;
}

/** sockaddr_un for a filesystem path. */
export function encodeUnix(path: string): Uint8Array {
  const p = new TextEncoder().encode(path), b = new Uint8Array(2 + p.length + 1);
  new DataView(b.buffer).setUint16(0, 1, true); // AF_UNIX
  b.set(p, 2);
  return b;
}

/** Decodes what getsockname returned. */
export function decodeSockaddr(sa: Uint8Array): { family: 1 | 2 | 10; host: string; port: number; path?: string } {
  const v = new DataView(sa.buffer, sa.byteOffset, sa.byteLength), family = v.getUint16(0, true);
  if (family === 2) return { family, host: [...sa.subarray(4, 8)].join("."), port: v.getUint16(2, false) };
  if (family === 10) return { family, host: formatIpv6(sa.subarray(8, 24)), port: v.getUint16(2, false) };
  if (family === 1) {
    const raw = sa.subarray(2), end = raw.indexOf(0);
    return { family, host: "", port: 0, path: new TextDecoder().decode(end === -1 ? raw : raw.subarray(0, end)) };
  }
  throw new AddressError(`Unsupported socket family ${family}`);
}

function ipv6Bytes(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = ip.split("%")[0];
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/); // ::ffff:1.2.3.4
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const hs = head ? head.split(":") : [], ts = tail ? tail.split(":") : [];
  const groups = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill("0"), ...ts];
  groups.forEach((g, i) => { const n = parseInt(g, 16); out[i * 2] = n >> 8; out[i * 2 + 1] = n & 0xff; });
  return out;
}

function formatIpv6(b: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => (b[i * 2] << 8) | b[i * 2 + 1]);
  // compress the longest run of zero groups (RFC 5952)
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best === -1) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
