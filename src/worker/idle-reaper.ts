// Closes idle and slow-header connections where the native server does not: Deno.serve has no
// idle or header timeout, so a client that connects and sends nothing, dribbles its request a
// byte at a time, or idles after a response holds its connection (and an fd) for ever.
//
// The server's connections are not visible to JavaScript, but they are this process's sockets:
// every sweep lists /proc/self/fd and keeps the connected TCP sockets whose local port is one we
// listen on (so connections the app opened itself are never touched). A connection is waiting
// from when a sweep first saw it, or from the first sweep after its last response was fully
// delivered (so it may wait one sweep longer than the keep-alive time); one that has waited
// longer than the keep-alive time with no request in flight is shut down, which the server then
// sees as the client closing. Requests are matched to sockets by the client's port
// only: two clients on the same port count as one, which can only delay a close, never cause one.
import { runtime } from "../runtime/index.ts";
import { shutdownBoth, tcpPorts } from "../sockets/libc.ts";

export class IdleReaper {
  /** Requests in flight, by client port. */
  readonly #busy = new Int32Array(65536);
  /**
   * Bumped by client port when a request reaches the app and when its response went out: a
   * sweep that finds the same number as the one before knows nothing happened in between. Two
   * typed-array stores per request, no clock read: this runs on every request.
   */
  readonly #activity = new Uint32Array(65536);
  #inFlight = 0;
  /** Client ports whose connection became a WebSocket: left alone. */
  readonly #upgraded = new Set<number>();
  /** Per connection (fd and client port): the activity count a sweep last saw, and since when. */
  #seen = new Map<string, { activity: number; since: number }>();
  readonly #timer: ReturnType<typeof setInterval>;

  /** Closes what waited longer than `idleMs` on the local `ports`; sweeps `idleMs / 4` apart (0.25–1 s). */
  constructor(readonly ports: Set<number>, readonly idleMs: number) {
    this.#timer = setInterval(() => this.sweep(), Math.min(1000, Math.max(250, idleMs / 4)));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** A request on `port` reached the app; `completed` settles when its response went out. */
  started(port: number, completed: Promise<unknown>): void {
    this.#busy[port]++;
    this.#activity[port]++;
    this.#inFlight++;
    const done = () => {
      if (this.#busy[port] > 0) this.#busy[port]--;
      this.#activity[port]++;
      this.#inFlight--;
    };
    completed.then(done, done);
  }

  /** The connection on `port` is a WebSocket now: no idle limit (it ends at the graceful stop). */
  upgraded(port: number): void {
    this.#upgraded.add(port);
  }

  /** Requests in flight now. */
  inFlight(): number {
    return this.#inFlight;
  }

  /**
   * One pass over this process's sockets: closes what waited longer than `idleMs` (0: every
   * connection with nothing in flight, as a stopping worker does). A connection waits from when
   * a sweep first saw it, or from the last sweep that found a request started or a response
   * delivered on it since the one before. Returns how many it closed, and how many WebSocket
   * sessions are open.
   */
  sweep(idleMs = this.idleMs): { closed: number; sessions: number } {
    const now = Date.now(), seen = new Map<string, { activity: number; since: number }>(), live = new Set<number>();
    let closed = 0, sessions = 0, names: string[];
    try {
      names = runtime.readDirNames("/proc/self/fd");
    } catch {
      return { closed, sessions: this.#upgraded.size }; // a full fd table: try again next time
    }
    for (const name of names) {
      const fd = Number(name), p = tcpPorts(fd);
      if (!p || !this.ports.has(p.local)) continue;
      live.add(p.peer);
      const key = `${fd}:${p.peer}`, activity = this.#activity[p.peer], last = this.#seen.get(key);
      const since = last && last.activity === activity ? last.since : now;
      seen.set(key, { activity, since });
      if (this.#upgraded.has(p.peer)) sessions++;
      if (this.#busy[p.peer] > 0 || this.#upgraded.has(p.peer)) continue;
      if (now - since >= idleMs) {
        shutdownBoth(fd);
        closed++;
      }
    }
    this.#seen = seen;
    for (const port of this.#upgraded) if (!live.has(port)) this.#upgraded.delete(port);
    return { closed, sessions };
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
