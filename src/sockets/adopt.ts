// Native adoption: neither Bun.serve nor Deno.serve takes an fd, so we start
// the native server on a throw-away socket, then swap the inherited listener in under the same
// fd number and re-register it with the runtime's epoll set, so the runtime's own accept loop
// accepts from the arbiter's shared socket. Linux only: it reads /proc/self/fd and fdinfo.
import { decodeSockaddr } from "./address.ts";
import * as libc from "./libc.ts";
import { runtime } from "../runtime/index.ts";

/** Why adoption cannot go on; the message is the one log line of the fallback. */
export class AdoptError extends Error {
  readonly code = "E_ADOPT";
}

/** The fd numbers that are sockets right now: take one before starting the server, one after. */
export function socketFds(): Set<number> {
  const out = new Set<number>();
  let names: string[];
  try {
    names = runtime.readDirNames("/proc/self/fd");
  } catch (err) {
    if ((err as { code?: string }).code === "EMFILE") throw err; // a full fd table, not a missing /proc
    throw new AdoptError("no /proc/self/fd (native serving needs Linux)");
  }
  for (const name of names) {
    try {
      if (runtime.readLink(`/proc/self/fd/${name}`).startsWith("socket:")) out.add(Number(name));
    } catch {
      // closed while we looked (readdir's own fd, for one)
    }
  }
  return out;
}

/** Where the throw-away server listens: a loopback port, or a unix socket path. */
export type ThrowAway = { port: number } | { path: string };

/** The new socket fd (not in `before`) bound to the throw-away address. */
export function findListener(before: Set<number>, at: ThrowAway): number {
  const found: number[] = [];
  for (const fd of socketFds()) {
    if (before.has(fd)) continue;
    try {
      const sa = decodeSockaddr(libc.getsockname(fd));
      if ("path" in at ? sa.path === at.path : sa.port === at.port) found.push(fd);
    } catch {
      // not a socket we can name
    }
  }
  if (found.length !== 1) throw new AdoptError(`found ${found.length} listening fds for the native server, expected 1`);
  return found[0];
}

/**
 * The one epoll set watching `fd`, and its registration. An epoll set can sit under several fd
 * numbers (Deno dups its own: fds 3 and 5 name one set), so sets are told apart by inode, and
 * an entry counts only when it names `fd`'s own socket inode.
 */
export function findEpoll(fd: number): { epfd: number; entry: libc.EpollEntry } {
  const socketIno = Number(runtime.readLink(`/proc/self/fd/${fd}`).match(/^socket:\[(\d+)\]$/)?.[1]);
  const sets = new Map<string, { epfd: number; entry: libc.EpollEntry }>();
  for (const name of runtime.readDirNames("/proc/self/fd")) {
    let link: string;
    try {
      link = runtime.readLink(`/proc/self/fd/${name}`);
    } catch {
      continue;
    }
    if (!link.includes("eventpoll")) continue;
    const info = runtime.readTextFile(`/proc/self/fdinfo/${name}`);
    const setIno = info.match(/^ino:\s*(\S+)/m)?.[1] ?? name;
    for (const m of info.matchAll(/^tfd:\s+(\d+)\s+events:\s+([0-9a-f]+)\s+data:\s+([0-9a-f]+).*?\bino:([0-9a-f]+)/gm)) {
      if (Number(m[1]) !== fd || parseInt(m[4], 16) !== socketIno || sets.has(setIno)) continue;
      sets.set(setIno, { epfd: Number(name), entry: { events: parseInt(m[2], 16), data: BigInt(`0x${m[3]}`) } });
    }
  }
  if (sets.size !== 1) throw new AdoptError(`the native server's listener is in ${sets.size} epoll sets, expected 1`);
  return [...sets.values()][0];
}

/** A listener swapped in under the native server: what stop() needs to stop accepting. */
export interface Adopted {
  fd: number;
  epfd: number;
  /** Its registration in the runtime's epoll set, to add it back after pauseAccepting(). */
  entry: libc.EpollEntry;
  /** The fd the listener was inherited at: a second copy, closed with the first at stop. */
  inherited: number;
  /** Out of the runtime's epoll set for now (pauseAccepting), or for good (stopAccepting). */
  paused: boolean;
}

/**
 * Puts `inherited` under fd `target` (closing the throw-away socket, which drops its epoll
 * entry) and registers it again with the same events and data, then checks that `target`
 * now names the inherited address.
 */
export function adopt(inherited: number, target: number, epfd: number, entry: libc.EpollEntry): Adopted {
  const want = sockname(inherited);
  try {
    libc.setNonBlocking(inherited);
    libc.dup2(inherited, target);
    libc.epollAdd(epfd, target, entry);
  } catch (err) {
    throw new AdoptError((err as Error).message);
  }
  const got = sockname(target);
  if (got !== want) throw new AdoptError(`after dup2 the listener is ${got}, expected ${want}`);
  return { fd: target, epfd, entry, inherited, paused: false };
}

/**
 * Takes the listener out of the runtime's epoll set: the runtime stops accepting from it, its
 * open connections are served as before, and new ones wait in the shared queue for the other
 * workers. Returns false when it could not (the server closed the fd).
 */
export function pauseAccepting(a: Adopted): boolean {
  if (a.paused) return true;
  try {
    libc.epollDel(a.epfd, a.fd);
  } catch {
    return false;
  }
  return (a.paused = true);
}

/** Puts the listener back (same events, same data); connections already queued are reported at once. */
export function resumeAccepting(a: Adopted): boolean {
  if (!a.paused) return true;
  try {
    libc.epollAdd(a.epfd, a.fd, a.entry);
  } catch {
    return false;
  }
  a.paused = false;
  return true;
}

/**
 * Stops the runtime from hearing about new connections; they stay queued for the other workers.
 * Then our copy of the listening socket closes, without the runtime's fd closing: a placeholder
 * takes the number (the runtime closes that one at stop). When every copy is closed — the whole
 * server stopping — new connections are refused at once instead of waiting in a backlog nobody reads.
 */
export function stopAccepting(a: Adopted): void {
  pauseAccepting(a);
  try {
    libc.replaceWithPlaceholder(a.fd);
    if (a.inherited !== a.fd) libc.replaceWithPlaceholder(a.inherited);
  } catch {
    // already gone: the server closed it
  }
}

function sockname(fd: number): string {
  const sa = decodeSockaddr(libc.getsockname(fd));
  return sa.family === 1 ? `unix:${sa.path}` : `${sa.host}:${sa.port}`;
}
