// --reuse-port, on nginx's model: per TCP address, one SO_REUSEPORT listening
// socket per worker slot, all created and held by the arbiter. The kernel spreads new connections
// across the slots by hash, so a burst of keep-alive connections cannot pile onto the one worker
// whose accept loop ran first, as it can on a single shared socket. A slot outlives its worker:
// connections queued on the slot of a worker that died or is being recycled wait there for the
// replacement. Only closing a slot (fewer workers) can lose its queue.
import fs from "node:fs";
import process from "node:process";
import type { Logger } from "../log/logger.ts";
import * as libc from "./libc.ts";
import { SLOTS_ENV } from "../handoff.ts";
import type { Listener } from "./listeners.ts";


export class ReusePortSlots {
  /** Slot i → one fd per listener: slot 0 is the listeners themselves. */
  readonly #slots: number[][];

  /** Takes over the slots a previous arbiter handed over on USR2, if any (the variable is removed). */
  constructor(readonly listeners: Listener[], readonly backlog: number, env: Record<string, string | undefined> = process.env) {
    this.#slots = [listeners.map((l) => l.fd)];
    const handed = env[SLOTS_ENV];
    delete env[SLOTS_ENV];
    for (const spec of handed ? handed.split(";") : []) {
      const fds = spec.split(",").map((x, j) => (x === "-" ? listeners[j]?.fd : Number(x)));
      if (fds.length !== listeners.length || fds.some((fd) => !Number.isInteger(fd))) continue;
      fds.forEach((fd, j) => { if (fd !== listeners[j].fd) libc.setCloexec(fd, true); }); // handed to one worker at a time (arbiter/context.ts)
      this.#slots.push(fds);
    }
  }

  /** True when some listener takes slots; unix sockets (and fd:// ones) stay shared by every worker. */
  get enabled(): boolean {
    return this.listeners.some((l) => l.reusePort);
  }

  get count(): number {
    return this.#slots.length;
  }

  /** The fds a worker in slot `i` serves, one per listener; creates the slot when it is new. */
  fdsFor(i: number): number[] {
    while (this.#slots.length <= i) this.#slots.push(this.listeners.map((l) => (l.reusePort ? sibling(l.fd, this.backlog) : l.fd)));
    return this.#slots[i];
  }



  /** Closes the highest slots beyond `keep` that no worker holds (slot 0, the listeners, stays). */
  trim(keep: number, held: Set<number>): void {
    while (this.#slots.length > Math.max(1, keep) && !held.has(this.#slots.length - 1)) this.#close(this.#slots.pop()!);
  }

  /** USR2: the fds to hand the new arbiter after the listeners, so no slot's queue is lost. */
  handoverFds(): number[] {
    return this.#slots.slice(1).flatMap((fds) => fds.filter((fd, j) => fd !== this.listeners[j].fd));
  }

  /** USR2: the variable that maps the new arbiter's fds (`childFds`, in handoverFds() order) to slots. */
  handoverEnv(childFds: number[]): Record<string, string> {
    if (childFds.length === 0) return {};
    let k = 0;
    const slots = this.#slots.slice(1).map((fds) => fds.map((fd, j) => (fd !== this.listeners[j].fd ? String(childFds[k++]) : "-")).join(","));
    return { [SLOTS_ENV]: slots.join(";") };
  }



  /** Closes every slot but 0 (the listeners are closed with the listeners). */
  closeAll(): void {
    while (this.#slots.length > 1) this.#close(this.#slots.pop()!);
  }

  #close(fds: number[]): void {
    fds.forEach((fd, i) => { if (fd !== this.listeners[i].fd) libc.close(fd); });
  }
}

/** One more listening socket in `fd`'s SO_REUSEPORT group: same address, same options. */
function sibling(fd: number, backlog: number): number {
  const sa = libc.getsockname(fd);
  const family = new DataView(sa.buffer, sa.byteOffset).getUint16(0, true);
  const s = libc.socket(family);
  try {
    libc.setReuseAddr(s);
    libc.setReusePort(s);
    if (family === libc.AF_INET6) libc.setV6Only(s);
    libc.bind(s, sa);
    libc.listen(s, backlog);
    libc.setCloexec(s, true); // handed to one worker at a time (arbiter/context.ts)
    return s;
  } catch (err) {
    libc.close(s);
    throw err;
  }
}

/**
 * With net.ipv4.tcp_migrate_req at 0 (Linux's default) the kernel resets the connections queued
 * on a slot socket when it closes (measured: up to a dozen or so failed connections each time
 * one of two workers stopped under a fresh-connection load); at 1 it moves them to the other slots.
 */
export function warnUnlessMigrating(log: Logger): void {
  let v = "";
  try {
    v = fs.readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim();
  } catch {
    return; // not Linux, or an older kernel: nothing to say
  }
  if (v === "0") {
    log.warn("--reuse-port: net.ipv4.tcp_migrate_req is 0, so connections queued on a slot that TTOU closes are reset; `sysctl -w net.ipv4.tcp_migrate_req=1` moves them to the other slots");
  }
}
