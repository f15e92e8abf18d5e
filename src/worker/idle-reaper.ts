// Closes idle and slow-header connections where the native server does not: Deno.serve has no
// idle or header timeout, so a client that connects and sends nothing, dribbles its request a
// byte at a time, or idles after a response holds its connection (and an fd) for ever.
//
// The server's connections are not visible to JavaScript, but they are this process's sockets:
// every sweep lists /proc/self/fd and keeps the connected TCP sockets whose local port is one we
// listen on (so connections the app opened itself are never touched). The kernel says how long
// ago each one last sent data (tcp_info): one that sent nothing for the keep-alive time (no
// response since its last one, or since it was accepted) and has no request in flight is shut
// down, which the server then sees as the client closing. A request counts as in flight from
// when it reaches the app until Deno says its response went out (`info.completed`), so a slow
// handler or a quiet stream keeps its connection. Requests are matched to sockets by the client's
// port, and only when a sweep finds a connection to close: two clients on the same port count as
// one, which can only delay a close, never cause one.
import { runtime } from "../runtime/index.ts";
import type { NativeInfo } from "../runtime/types.ts";
import { msSinceSent, shutdownBoth, tcpPorts } from "../sockets/libc.ts";

export class IdleReaper {
  /**
   * The requests in flight and their infos, in reusable slots: two stores and a promise callback
   * per request, no client address (reading it costs as much as the rest of this bookkeeping).
   */
  readonly #requests: (Request | undefined)[] = [];
  readonly #infos: (NativeInfo | undefined)[] = [];
  readonly #free: number[] = [];
  #inFlight = 0;
  /** Client ports whose connection became a WebSocket: left alone. */
  readonly #upgraded = new Set<number>();
  readonly #timer: ReturnType<typeof setInterval>;

  /** Closes what waited longer than `idleMs` on the local `ports`; sweeps `idleMs / 4` apart (0.25–1 s). */
  constructor(readonly ports: Set<number>, readonly idleMs: number) {
    this.#timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(250, idleMs / 4)));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** A request reached the app; it is in flight until `info.completed` settles. */
  started(request: Request, info: NativeInfo & { completed: Promise<unknown> }): void {
    const s = this.#free.length ? this.#free.pop()! : this.#infos.length;
    this.#requests[s] = request;
    this.#infos[s] = info;
    this.#inFlight++;
    const done = () => {
      this.#requests[s] = this.#infos[s] = undefined;
      this.#free.push(s);
      this.#inFlight--;
    };
    info.completed.then(done, done);
  }

  /**
   * Call as `request` is upgraded (before the runtime takes its connection, while its address can
   * still be read): the connection is a WebSocket now, with no idle limit (it ends at the
   * graceful stop).
   */
  upgrading(request: Request): void {
    const s = this.#requests.indexOf(request);
    const port = s < 0 ? 0 : portOf(this.#infos[s]!);
    if (port) this.#upgraded.add(port);
  }

  /** Requests in flight now. */
  inFlight(): number {
    return this.#inFlight;
  }

  /**
   * One pass over this process's sockets: closes what sent nothing for `idleMs` (0: every
   * connection with nothing in flight, as a stopping worker does). Returns how many it closed,
   * and how many WebSocket sessions are open.
   */
  sweep(idleMs = this.idleMs): { closed: number; sessions: number } {
    const live = new Set<number>();
    let closed = 0, sessions = 0, busy: Set<number> | undefined, names: string[];
    try {
      names = runtime.readDirNames("/proc/self/fd");
    } catch {
      return { closed, sessions: this.#upgraded.size }; // a full fd table: try again next time
    }
    for (const name of names) {
      const fd = Number(name), p = tcpPorts(fd);
      if (!p || !this.ports.has(p.local)) continue;
      live.add(p.peer);
      if (this.#upgraded.has(p.peer)) {
        sessions++;
        continue;
      }
      const quiet = msSinceSent(fd);
      if (quiet < 0 || quiet < idleMs) continue;
      busy ??= this.#busyPorts();
      if (busy.has(p.peer)) continue;
      shutdownBoth(fd);
      closed++;
    }
    for (const port of this.#upgraded) if (!live.has(port)) this.#upgraded.delete(port);
    return { closed, sessions };
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The client ports of the requests in flight. */
  #busyPorts(): Set<number> {
    const ports = new Set<number>();
    for (const info of this.#infos) if (info) ports.add(portOf(info));
    return ports;
  }
}

/** The client port of a request in flight; 0 when the runtime no longer says (it has closed). */
function portOf(info: NativeInfo): number {
  try {
    return info.remoteAddr.port;
  } catch {
    return 0;
  }
}
