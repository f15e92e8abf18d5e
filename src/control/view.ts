// The arbiter as the control socket and /metrics see it: a read-only view, and the few verbs
// they may use. The arbiter builds both; nothing else of it is reachable from here.
import type { Config } from "../types.ts";
import type { WorkerCounters } from "./counters.ts";

/** A worker as the arbiter's table holds it. */
export interface ObservedWorker {
  readonly pid: number;
  readonly age: number;
  readonly generation: number;
  readonly spawnedAt: number;
  readonly serving: boolean;
  readonly recycling: boolean;
  readonly retiring: boolean;
  /** The last signal the arbiter sent it. */
  readonly sent?: string;
  /** When it last showed its event loop alive (ms since the epoch), null before it serves. */
  readonly beatAt?: number | null;
  /** What it counted, when its worker class counts requests. */
  readonly counters?: WorkerCounters;
  /** How late its heartbeat timer last fired, in seconds: its event loop's lag. */
  readonly lagSeconds?: number;
}

export interface ArbiterView {
  readonly generation: number;
  readonly numWorkers: number;
  readonly cfg: Config;
  readonly listeners: readonly { fd: number; address: string }[];
  /** --reuse-port: every slot's sockets (slot × listener), each with its own accept queue. */
  readonly slotFds?: readonly (readonly number[])[];
  readonly workers: readonly ObservedWorker[];
  readonly stopping: boolean;
  readonly reloading: boolean;
  readonly upgradeChild?: number;
  readonly upgradeParent?: number;
}

/** What the control socket may make the arbiter do; the loop acts on them as it does on signals. */
export interface ArbiterVerbs {
  setWorkers(n: number): Promise<void>;
  /** Queues a signal for the loop, as if it had been sent (HUP, USR1, USR2, TERM, INT). */
  signal(sig: "SIGHUP" | "SIGUSR1" | "SIGUSR2" | "SIGTERM" | "SIGINT"): void;
  /** Marks a worker to be replaced, its replacement first; false if there is no such worker. */
  recycle(pid: number, why: string): boolean;
}
