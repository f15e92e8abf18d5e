// Trusted proxies (--forwarded-allow-ips, --secure-scheme-headers): from a trusted peer, the
// `Forwarded`, `X-Forwarded-For` and secure scheme headers say who the client is and whether it
// came over https. From any other peer they change nothing. A request with none of them costs a
// few header lookups; the peer's address is looked at only when one is present.
import { isIP } from "../sockets/ip.ts";
import { peerMatcher } from "../config/networks.ts";
import type { Config } from "../types.ts";

/** What a trusted proxy says about a request. */
export interface Forwarded {
  /** The client's address, when the proxy named one that is an IP address. */
  address?: string;
  port: number;
  /** Set when a scheme header or `Forwarded: proto=` was present. */
  scheme?: "http" | "https";
}

/** The headers disagree (scheme headers with different answers, or `Forwarded` against `X-Forwarded-For`): a 400. */
export const CONFLICT = "conflict";

export class ProxyTrust {
  readonly #trusted: (address: string) => boolean;
  readonly #scheme: [name: string, value: string][];
  /** Every header that can change a request, for the cheap "none present" check. */
  readonly names: readonly string[];

  constructor(cfg: Pick<Config, "forwardedAllowIps" | "secureSchemeHeaders">) {
    this.#trusted = peerMatcher(cfg.forwardedAllowIps);
    this.#scheme = Object.entries(cfg.secureSchemeHeaders);
    this.names = ["x-forwarded-for", "forwarded", ...this.#scheme.map(([n]) => n)];
  }

  /**
   * True for a connection on a unix socket, and for a TCP peer whose address is trusted. `unix`
   * comes from the listener the connection arrived on, never from a missing address: a TCP client
   * that resets at once has no address either.
   */
  trusts(peer: string, unix: boolean): boolean {
    return unix || (peer !== "" && this.#trusted(peer));
  }

  /**
   * Null when no peer can be trusted (no address given, no unix listener): serving then skips
   * every check, and a request costs nothing more than without proxy support.
   */
  static from(cfg: Pick<Config, "forwardedAllowIps" | "secureSchemeHeaders">, unixListeners = false): ProxyTrust | null {
    return unixListeners || cfg.forwardedAllowIps.some((e) => e.trim() !== "") ? new ProxyTrust(cfg) : null;
  }

  /**
   * What the proxy says, or null (no such header, or an untrusted peer). `peer` is the connection's
   * address; a unix socket's peers are trusted, as in gunicorn (only local processes that may
   * open the socket file can connect).
   */
  resolve(peer: string, unix: boolean, get: (name: string) => string | null | undefined): Forwarded | typeof CONFLICT | null {
    if (!this.trusts(peer, unix)) return null;
    const out: Forwarded = { port: 0 };
    // 1. The scheme: every configured header present must agree (gunicorn refuses the request otherwise).
    for (const [name, value] of this.#scheme) {
      const v = get(name);
      if (v === null || v === undefined) continue;
      const scheme = v.trim() === value ? "https" : "http";
      if (out.scheme && out.scheme !== scheme) return CONFLICT;
      out.scheme = scheme;
    }
    // 2. The client: walking the hops from the nearest, the first one that is not a trusted proxy.
    const xff = get("x-forwarded-for"), fwd = get("forwarded");
    const byXff = xff ? this.#client(xff.split(",").map(node)) : undefined;
    const elements = fwd ? parseForwarded(fwd) : undefined;
    if (elements === null) return CONFLICT; // unparseable: the proxy did not write it
    const byFwd = elements ? this.#client(elements.map((e) => node(e.for ?? ""))) : undefined;
    if (byXff && byFwd && byXff.address !== byFwd.address) return CONFLICT;
    const client = byFwd ?? byXff;
    if (client) Object.assign(out, client.address ? { address: client.address, port: client.port } : {});
    // 3. Forwarded's proto= of the hop the client used, against the scheme headers.
    const proto = elements && byFwd ? elements[byFwd.index].proto?.toLowerCase() : undefined;
    if (proto === "http" || proto === "https") {
      if (out.scheme && out.scheme !== proto) return CONFLICT;
      out.scheme = proto;
    }
    return out.address !== undefined || out.scheme !== undefined ? out : null;
  }

  #client(hops: { address?: string; port: number }[]): { address?: string; port: number; index: number } | undefined {
    for (let i = hops.length - 1; i >= 0; i--) {
      const h = hops[i];
      if (!h.address || !this.#trusted(h.address) || i === 0) return { ...h, index: i };
    }
    return undefined;
  }
}

/** One hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`, or an obfuscated name (no address). */
function node(text: string): { address?: string; port: number } {
  let s = text.trim().replace(/^"|"$/g, "");
  let port = 0;
  const v6 = s.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (v6) [s, port] = [v6[1], Number(v6[2] ?? 0)];
  else if (/^[\d.]+:\d+$/.test(s)) [s, port] = [s.slice(0, s.lastIndexOf(":")), Number(s.slice(s.lastIndexOf(":") + 1))];
  return isIP(s) ? { address: s, port } : { port: 0 };
}

/** RFC 7239 `Forwarded`: elements separated by commas, `key=value` pairs by semicolons; null if malformed. */
export function parseForwarded(header: string): Record<string, string>[] | null {
  const out: Record<string, string>[] = [];
  // Commas and semicolons inside quoted strings (a quoted IPv6 address with a port) are not separators.
  for (const element of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const pairs: Record<string, string> = {};
    for (const pair of element.match(/(?:[^;"]|"[^"]*")+/g) ?? []) {
      const eq = pair.indexOf("=");
      if (eq <= 0) return null;
      pairs[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim().replace(/^"|"$/g, "");
    }
    out.push(pairs);
  }
  return out.length ? out : null;
}

const badRequest = () => new Response("Bad Request: the forwarding headers disagree\n", { status: 400, headers: { "content-type": "text/plain" } });

/**
 * The request and info a fetch app sees: with `https:` in request.url when the proxy says so,
 * and the client's address in info.remoteAddr, info.requestIP() (what Hono's getConnInfo reads)
 * and request.ip (srvx's field, what h3's getRequestIP reads). Null: serve the request as it is.
 */
export function forwardFetch<I extends FetchInfo>(trust: ProxyTrust, request: Request, info: I): { request: Request; info: I } | Response | null {
  // The peer first: it is at hand (Deno) or one lookup (Bun), while touching request.headers makes
  // both runtimes build a Headers object the app may never have needed.
  const a = info.remoteAddr, unix = a.transport === "unix", peer = unix ? "" : a.hostname;
  if (!trust.trusts(peer, unix)) return null;
  const h = request.headers;
  let present = false;
  for (const n of trust.names) if (h.has(n)) { present = true; break; }
  if (!present) return null;
  const f = trust.resolve(peer, unix, (n) => h.get(n));
  if (f === null) return null;
  if (f === CONFLICT) return badRequest();
  return applyForwarded(f, request, info);
}

/**
 * The request and info with what the proxy said applied (see forwardFetch). The URL is replaced
 * on the request object itself, clone() included: `new Request(url, request)` would copy it, but
 * costs Deno two thirds of its throughput. A `new Request(request)` the app makes sees the URL the
 * connection had.
 */
export function applyForwarded<I extends FetchInfo>(f: Forwarded, request: Request, info: I): { request: Request; info: I } {
  const url = request.url, colon = url.indexOf(":");
  if (f.scheme && url.slice(0, colon) !== f.scheme) setUrl(request, f.scheme + url.slice(colon));
  if (f.address === undefined) return { request, info };
  Object.defineProperty(request, "ip", { value: f.address, enumerable: true, configurable: true });
  return { request, info: new ForwardedInfo(info, f.address, f.port) as unknown as I };
}

function setUrl(request: Request, url: string): void {
  const clone = request.clone;
  Object.defineProperty(request, "url", { value: url, enumerable: true, configurable: true });
  Object.defineProperty(request, "clone", {
    value(this: Request) {
      const copy = clone.call(this);
      setUrl(copy, url);
      return copy;
    },
    configurable: true,
  });
}

/** The parts of a native or compat info object forwarding replaces or passes through. */
export interface FetchInfo {
  remoteAddr: { hostname: string; port: number; transport: "tcp" | "unix" };
  requestIP(request: Request): { address: string; port: number; family: string } | null;
  upgrade?(request: Request, options?: unknown): boolean;
  readonly upgraded?: boolean;
}

/** The info a fetch app gets for a forwarded request: the client's address; the rest as the runtime's. */
class ForwardedInfo implements FetchInfo {
  readonly remoteAddr: FetchInfo["remoteAddr"];
  readonly #ip: { address: string; port: number; family: string };
  constructor(readonly inner: FetchInfo, address: string, port: number) {
    this.remoteAddr = { hostname: address, port, transport: "tcp" };
    this.#ip = { address, port, family: address.includes(":") ? "IPv6" : "IPv4" };
    // Bun's server.upgrade(), where the runtime has one.
    if (inner.upgrade) this.upgrade = (request, options) => inner.upgrade!(request, options);
  }

  upgrade?: (request: Request, options?: unknown) => boolean;

  get upgraded(): boolean | undefined {
    return this.inner.upgraded;
  }

  requestIP(): { address: string; port: number; family: string } {
    return this.#ip;
  }
}

/** Where the node path keeps what the proxy said, for the fetch worker's compat handler and the access log. */
export const FORWARDED = Symbol.for("guvnor.forwarded");

/**
 * Where the node path records, when a connection is accepted, its peer's address and whether it
 * came in on a unix socket: by the time a request is read, a client that reset has no address.
 */
export const PEER = Symbol.for("guvnor.peer");

/** Call for each accepted connection of the node path, with the kind of its listener. */
export function notePeer(socket: { remoteAddress?: string; [PEER]?: { address: string; unix: boolean } }, unix: boolean): void {
  socket[PEER] = { address: unix ? "" : socket.remoteAddress ?? "", unix };
}

type NodeRequest = {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string; [PEER]?: { address: string; unix: boolean } };
  ip?: string;
  protocol?: string;
  [FORWARDED]?: Forwarded;
};

/**
 * The node path (`-k node`, and the fetch worker's compat path): from a trusted proxy the
 * request gets `req.ip` (the client's address) and `req.protocol` (`"https"` or `"http"`) as its
 * own properties; Express's getters of those names, and `req.secure`, then return them.
 * `req.socket.remoteAddress` stays the proxy's: a keep-alive connection from a proxy carries many
 * clients' requests. Returns false when the headers disagree: answer 400.
 */
export function forwardNode(trust: ProxyTrust, req: NodeRequest): boolean {
  const h = req.headers;
  let present = false;
  for (const n of trust.names) if (h[n] !== undefined) { present = true; break; }
  if (!present) return true;
  // A connection nobody noted (a worker class that accepts by itself) is TCP: trusted by address only.
  const p = req.socket[PEER] ?? { address: req.socket.remoteAddress ?? "", unix: false };
  const f = trust.resolve(p.address, p.unix, (n) => {
    const v = h[n];
    return Array.isArray(v) ? v.join(", ") : v;
  });
  if (f === null) return true;
  if (f === CONFLICT) return false;
  req[FORWARDED] = f;
  if (f.address !== undefined) req.ip = f.address;
  if (f.scheme) req.protocol = f.scheme;
  return true;
}
