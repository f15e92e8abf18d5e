// Even load across the workers of a shared listening socket. When a worker wakes up to a burst
// of new connections its runtime accepts the whole queue at once, and keep-alive connections then
// stay where they landed: one worker can end up with every connection of a pool while the others
// idle. Each worker therefore publishes how many connections were active on it lately in a table
// that all workers of one arbiter share, and, while it holds more than its fair share:
//   - stops accepting (its listener leaves the runtime's epoll set; the others take new connections);
//   - answers the next requests of its surplus connections with `Connection: close`, so those
//     clients reconnect, and land on a worker that is accepting.
// The table is shared memory every worker can write, and a worker is untrusted code: a reader
// clamps what it reads, and the kernel's own accept-queue length overrides the table (a worker
// never stays paused while connections wait and nobody takes them).

import process from "node:process";
import type { Logger } from "../log/logger.ts";
import { closeFd, mapShared } from "../sys/memory.ts";

/** Bytes of the shared table: SLOTS slots of 16 bytes (i32 pid, i32 connections, f64 stamp ms). */
export const TABLE_BYTES = 4096;
const SLOTS = TABLE_BYTES / 16;
/** How often a worker publishes and decides (a busy loop checks every 16 requests, a timer otherwise). */
export const TICK_MS = 50;
/**
 * A connection counts as active for this many ticks after its last request: a quarter second.
 * The window is also how long a closed connection still counts (the runtime does not say when
 * one closes): with half a second, the first two seconds of a fresh burst on the CPU route
 * reached 1.75x of one worker with two, with a quarter 1.9x and more.
 */
const WINDOW_TICKS = 5;
/**
 * Connections identified per tick, at most: telling a request's connection apart costs about a
 * microsecond on Bun (the client address and port, a map entry), a third of a hello-world
 * request. Beyond this many requests per tick one in N is looked at; a connection busy enough
 * to matter is still seen many times within the window, and one that is not adds little load.
 */
const LOOKUPS_PER_TICK = 100;
/** A slot not refreshed for this long belongs to a worker that is gone or stuck in a handler. */
const STALE_MS = 500;
/** No honest count exceeds this; a larger one is garbage and is clamped. */
const MAX_CONNECTIONS = 1 << 20;

/** The worker's listeners, as the balancer drives them. */
export interface Gate {
  /** Stop accepting new connections (open ones are still served). */
  pause(): void;
  resume(): void;
  /** Connections waiting in the shared accept queue, -1 when unknown. */
  queued(): number;
}

/** What one worker should do this tick, given its own count and the live others'. */
export interface Decision {
  /** Stop accepting until the next tick. */
  pause: boolean;
  /** Connections to hand back (`Connection: close` on their next response) before the next tick. */
  handBack: number;
}

/**
 * The policy, pure: a worker over its fair share (the mean, plus a tenth of it and at least one
 * connection of slack, so an even split does not churn) pauses, and hands back half its surplus
 * over the mean per tick (damped: the others' counts are a tick old). A worker with no
 * connections always accepts, so an honest minority can never all pause.
 */
export function decide(own: number, others: number[]): Decision {
  const n = others.length + 1;
  const mean = (own + others.reduce((a, b) => a + b, 0)) / n;
  const over = own > 0 && own > mean + Math.max(1, mean / 10);
  return { pause: over, handBack: over ? own - Math.ceil(mean) : 0 };
}

/** One worker's view of the shared table: its own slot to write, every live slot to read. */
export class BalanceTable {
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  #slot = -1;

  constructor(memory: ArrayBuffer, readonly pid: number) {
    if (memory.byteLength < TABLE_BYTES) throw new Error(`balance table is ${memory.byteLength} bytes, expected ${TABLE_BYTES}`);
    this.#i32 = new Int32Array(memory, 0, TABLE_BYTES / 4);
    this.#f64 = new Float64Array(memory, 0, TABLE_BYTES / 8);
  }

  /** Writes this worker's count; claims a slot first (again, if another wrote over ours). */
  publish(connections: number, now: number): void {
    if (this.#slot < 0 || this.#i32[this.#slot * 4] !== this.pid) this.#slot = this.#claim(now);
    if (this.#slot < 0) return;
    this.#i32[this.#slot * 4 + 1] = connections;
    this.#f64[this.#slot * 2 + 1] = now;
  }

  /** The counts of the other live workers, clamped. */
  others(now: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < SLOTS; s++) {
      const pid = this.#i32[s * 4], stamp = this.#f64[s * 2 + 1];
      if (pid <= 0 || pid === this.pid || !(now - stamp < STALE_MS && stamp - now < STALE_MS)) continue;
      out.push(Math.min(MAX_CONNECTIONS, Math.max(0, this.#i32[s * 4 + 1] | 0)));
    }
    return out;
  }

  /** Frees this worker's slot (a stopping worker no longer counts). */
  leave(): void {
    if (this.#slot >= 0 && this.#i32[this.#slot * 4] === this.pid) this.#f64[this.#slot * 2 + 1] = 0;
    this.#slot = -1;
  }

  /** A slot nobody refreshed lately, starting at one derived from the pid so workers rarely probe. */
  #claim(now: number): number {
    for (let k = 0; k < SLOTS; k++) {
      const s = (this.pid + k) % SLOTS;
      const stamp = this.#f64[s * 2 + 1];
      if (this.#i32[s * 4] === this.pid || !(now - stamp < 2 * STALE_MS)) {
        this.#i32[s * 4] = this.pid;
        this.#i32[s * 4 + 1] = 0;
        return s;
      }
    }
    return -1;
  }
}

/** The worker side: counts its connections per request, and steers the gate every tick. */
export class Balancer {
  /**
   * Connection key (client address and port) → 4 × the tick of its last request + its requests
   * seen (1, 2, 3 or more). Only those seen three times count: a connection used for one request
   * and closed (the server cannot tell) is no pool to spread, the accept queue spreads those; and
   * under a heavy connection-per-request load a client port comes round again within the window
   * (Linux gives connect() every other port of the range), which looks like a second request.
   */
  readonly #active = new Map<string, number>();
  #own = 0;
  #tick = 0;
  #handBack = 0;
  /** Requests this tick; and of every how many one is looked at (from the last tick's count). */
  #requests = 0;
  #every = 1;
  #skip = 0;
  #lastTick = 0;
  #paused = false;
  #draining = false;
  /** Ticks in a row the accept queue was not empty while we were paused. */
  #waiting = 0;
  #timer?: ReturnType<typeof setInterval>;

  constructor(readonly table: BalanceTable, readonly gate: Gate, readonly now: () => number = Date.now) {}

  start(): void {
    this.#timer ??= setInterval(() => this.#tickIfDue(), TICK_MS);
    // Not what keeps the process alive: the servers do.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /**
   * Stops steering and leaves the table; the gate is left as the caller's stop needs it. From now
   * on every response says `Connection: close`: a client busy on a keep-alive connection moves to
   * another worker between two requests, instead of racing the close of an idle connection.
   */
  stop(): void {
    clearInterval(this.#timer);
    this.table.leave();
    this.#draining = true;
  }

  /** Call per request: true when this one's connection should be reported with seen(). */
  due(): boolean {
    // A loop busy with requests runs its timers late: every 16 requests, see whether a tick is due.
    if ((++this.#requests & 15) === 0) this.#tickIfDue();
    if (this.#handBack > 0 || this.#draining) return true;
    if (--this.#skip >= 0) return false;
    this.#skip = this.#every - 1;
    return true;
  }

  /**
   * Call for a request due() picked, with its connection's key ("" when connections cannot be told
   * apart: a unix socket); true means: answer it with `Connection: close`.
   */
  seen(key: string): boolean {
    if (this.#draining) return true;
    if (!key) return false;
    const seen = Math.min(3, ((this.#active.get(key) ?? 0) % 4) + 1);
    // Only a connection that counts goes back: a fresh one may be one just handed over.
    if (this.#handBack > 0 && seen === 3) {
      this.#handBack--;
      this.#active.delete(key);
      return true;
    }
    this.#active.set(key, this.#tick * 4 + seen);
    return false;
  }

  /** Keep-alive connections active within the window, as of the last tick. */
  get connections(): number {
    return this.#own;
  }

  #tickIfDue(): void {
    if (this.now() - this.#lastTick >= TICK_MS) this.tick();
  }

  tick(): void {
    const now = this.#lastTick = this.now(), oldest = ++this.#tick - WINDOW_TICKS;
    this.#every = Math.max(1, Math.floor(this.#requests / LOOKUPS_PER_TICK));
    this.#requests = 0;
    let own = 0;
    for (const [key, v] of this.#active) {
      if (Math.floor(v / 4) < oldest) this.#active.delete(key); // not bit shifts: a tick count outgrows 31 bits
      else if (v % 4 === 3) own++;
    }
    this.#own = own;
    this.table.publish(own, now);
    const d = decide(own, this.table.others(now));
    this.#handBack = d.handBack;
    // The kernel's queue overrides the table: connections left waiting while we pause mean
    // nobody else is taking them (the others are busy, stuck, or lying in the table).
    const queued = d.pause ? this.gate.queued() : 0;
    this.#waiting = d.pause && queued > 0 ? this.#waiting + 1 : 0;
    const pause = d.pause && this.#waiting < 2;
    if (pause !== this.#paused) {
      this.#paused = pause;
      if (pause) this.gate.pause();
      else this.gate.resume();
    }
  }
}

let handed: BalanceTable | undefined;

/**
 * Maps the table the arbiter handed over at `fd` and closes the descriptor (processes the app
 * starts must not inherit it). Call once, at boot; a failure only turns balancing off.
 */
export function takeBalanceTable(fd: number, log: Logger): void {
  try {
    handed = new BalanceTable(mapShared(fd, TABLE_BYTES).bytes.buffer as ArrayBuffer, process.pid);
  } catch (err) {
    log.debug(`No balancing: ${(err as Error).message}`);
  } finally {
    closeFd(fd);
  }
}

/** The table of this worker's arbiter, when it handed one over (not with --reuse-port). */
export function balanceTable(): BalanceTable | undefined {
  return handed;
}
