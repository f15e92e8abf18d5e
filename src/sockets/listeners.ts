// The arbiter's listening sockets: created once, before any worker, kept for its whole life.
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { AddressError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { type BindAddress, decodeSockaddr, encodeInet, encodeUnix, formatUrl, parseAddress } from "./address.ts";
import * as libc from "./libc.ts";
import { isIP } from "./ip.ts";

/** A listener held by the arbiter. */
export interface Listener {
  /** The descriptor in the arbiter. */
  fd: number;
  kind: "tcp" | "unix";
  /** As printed in `Listening at:`: `http://127.0.0.1:8000`, `unix:/run/app.sock`. */
  address: string;
  /** The unix socket file we created and must remove on exit. */
  ownedPath?: string;
  /** Bound with SO_REUSEPORT (--reuse-port): per-worker slot sockets can join it (sockets/slots.ts). */
  reusePort?: boolean;
}

export interface ListenOptions {
  backlog: number;
  /** umask applied while binding unix sockets. */
  umask: number;
  log: Logger;
  /** Tries and the pause between them when the address is in use (gunicorn: 5 × 1 s). */
  retries?: number;
  retryDelayMs?: number;
  /** --reuse-port: TCP listeners get SO_REUSEPORT, so slot sockets can join their group. */
  reusePort?: boolean;
}

/** Binds every address, in order; on failure closes what it bound and throws an AddressError. */
export async function createListeners(specs: string[], opts: ListenOptions): Promise<Listener[]> {
  const addresses = specs.map(parseAddress);
  const out: Listener[] = [];
  try {
    for (let i = 0; i < addresses.length; i++) out.push(await bindWithRetry(specs[i], addresses[i], opts));
  } catch (err) {
    closeListeners(out);
    throw err;
  }
  return out;
}

/** Closes the sockets and (unless another arbiter shares them) removes the unix socket files we created. */
export function closeListeners(listeners: Listener[], unlink = true): void {
  for (const l of listeners) {
    libc.close(l.fd);
    if (l.ownedPath && unlink) fs.rmSync(l.ownedPath, { force: true });
  }
}

async function bindWithRetry(spec: string, addr: BindAddress, opts: ListenOptions): Promise<Listener> {
  const tries = opts.retries ?? 5, delay = opts.retryDelayMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindOne(addr, opts);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "EADDRINUSE") throw wrap(spec, err);
      opts.log.error(`Connection in use: ${spec}`);
      if (attempt >= tries) {
        throw new AddressError(`Can't bind ${spec}: address already in use (tried ${tries} times)`, { cause: err });
      }
      opts.log.error(`Retrying in ${delay / 1000} second${delay === 1000 ? "" : "s"}.`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function wrap(spec: string, err: unknown): Error {
  if (err instanceof AddressError) return err;
  const code = (err as { code?: string }).code;
  const why = code === "EACCES" ? "permission denied (ports below 1024 need root)"
    : code === "ENOENT" && spec.startsWith("unix:") ? `the directory ${path.dirname(spec.slice(5))} does not exist`
    : code === "EADDRNOTAVAIL" ? "this machine has no such address"
    : code === "ENOTFOUND" || code === "EAI_AGAIN" ? "the host name does not resolve"
    : (err as Error).message;
  return new AddressError(`Can't bind ${spec}: ${why}`, { cause: err });
}

async function bindOne(addr: BindAddress, opts: ListenOptions): Promise<Listener> {
  if (addr.kind === "fd") return adoptFd(addr.fd);
  if (addr.kind === "unix") return bindUnix(addr.path, opts);
  // The resolver only for a host name: an address never loads it.
  const ip = isIP(addr.host) ? addr.host : (await process.getBuiltinModule("node:dns").promises.lookup(addr.host)).address;
  const six = isIP(ip) === 6;
  const fd = libc.socket(six ? libc.AF_INET6 : libc.AF_INET);
  try {
    libc.setReuseAddr(fd);
    if (opts.reusePort) libc.setReusePort(fd);
    if (six) libc.setV6Only(fd);
    libc.bind(fd, encodeInet(ip, addr.port));
    libc.listen(fd, opts.backlog);
    const bound = decodeSockaddr(libc.getsockname(fd)); // port 0 → the port the kernel chose
    return { fd, kind: "tcp", address: formatUrl(bound.host, bound.port), ...(opts.reusePort ? { reusePort: true } : {}) };
  } catch (err) {
    libc.close(fd);
    throw err;
  }
}

async function bindUnix(path: string, opts: ListenOptions): Promise<Listener> {
  await removeStaleSocket(path);
  const fd = libc.socket(libc.AF_UNIX);
  const old = libc.umask(opts.umask); // the socket file's mode comes from the umask at bind time
  try {
    libc.bind(fd, encodeUnix(path));
    libc.listen(fd, opts.backlog);
  } catch (err) {
    libc.close(fd);
    throw err;
  } finally {
    libc.umask(old);
  }
  return { fd, kind: "unix", address: `unix:${path}`, ownedPath: path };
}

/** A socket file nobody answers on is left over from a crash: remove it. One that answers is in use. */
async function removeStaleSocket(path: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new AddressError(`Can't bind unix:${path}: the path exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = process.getBuiltinModule("node:net").connect(path);
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });
  if (alive) throw Object.assign(new Error("in use"), { code: "EADDRINUSE" });
  fs.rmSync(path, { force: true });
}

/** fd://N: a socket someone else (systemd, a parent) bound for us; we never unlink it. */
function adoptFd(fd: number): Listener {
  let ok = false;
  try {
    ok = libc.isListeningStream(fd);
  } catch (err) {
    throw new AddressError(`Can't use fd://${fd}: it is not an open socket`, { cause: err });
  }
  if (!ok) throw new AddressError(`Can't use fd://${fd}: it is not a listening stream socket`);
  libc.setCloexec(fd, false); // inherited by workers like our own sockets
  const sa = decodeSockaddr(libc.getsockname(fd));
  if (sa.family === 1) return { fd, kind: "unix", address: `unix:${sa.path}` };
  // A previous arbiter's --reuse-port listener (USR2): our own slot sockets can join its group.
  return { fd, kind: "tcp", address: formatUrl(sa.host, sa.port), ...(libc.hasReusePort(fd) ? { reusePort: true } : {}) };
}
