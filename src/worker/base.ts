// The Worker base class: gunicorn's seven attributes (age, ppid, sockets, app, timeout, cfg, log)
// and its lifecycle.
import process from "node:process";
import type { WorkerConfig } from "../types.ts";
import type { Logger } from "../log/logger.ts";
import type { SocketInfo } from "../types.ts";
import { runtime } from "../runtime/index.ts";
import { resetSignalToDefault, setParentDeathSignal } from "../sys/process.ts";
import { callHook, type HookName, type Hooks } from "../config/hooks.ts";
import type { RecycleReason, Scoreboard } from "./scoreboard.ts";
import type { ArbiterWake } from "./wake.ts";
import { writeLag } from "../control/counters.ts";
import type { TlsMaterial } from "../runtime/tls.ts";

/** The app as the worker receives it: loaded in initProcess(), not before. */
export interface AppSource {
  /** `path/to/module.ts[:name]` */
  readonly spec: string;
  /** Imports the module; rejects with an AppLoadError. */
  load(): Promise<unknown>;
}

const SIGQUIT = 3, SIGABRT = 6;

export class Worker {
  /** Set to false when the worker is asked to stop; run() should then wind down. */
  alive = true;
  /** True once initProcess() has loaded the app and is about to call run(). */
  booted = false;
  /** The app's export, once initProcess() has loaded it. */
  appExport: unknown = undefined;
  /** Requests served, for max-requests. */
  nr = 0;
  /** Records the request being served, when --timeout is on (HTTP workers call trace?.traceStarted per request). */
  trace?: Pick<Scoreboard, "traceStarted">;
  /** The TLS certificate and key (PEM) the arbiter read, when --certfile is set (set by the bootstrap). */
  tls?: TlsMaterial;
  /** Worker-side server hooks from the config file (set by the bootstrap). */
  hooks: Hooks = {};
  /** What this worker tells the arbiter: heartbeat, readiness, recycle requests (set by the bootstrap). */
  board?: Scoreboard;
  /** Tells the arbiter to look at the scoreboard now (it serves, it asks to be recycled). */
  wake?: ArbiterWake;
  #beatTimer?: ReturnType<typeof setInterval>;
  readonly #stopRequested = Promise.withResolvers<void>();

  constructor(
    /** Spawn order: 1 for the first worker, never reused. */
    readonly age: number,
    /** The arbiter's pid; a different parent means the arbiter is gone. */
    readonly ppid: number,
    /** Listeners inherited from the arbiter. */
    readonly sockets: SocketInfo[],
    /** The app to serve; loaded by initProcess(). */
    readonly app: AppSource,
    /** Seconds of silence after which the arbiter kills this worker. */
    readonly timeout: number,
    /** The effective settings. */
    readonly cfg: WorkerConfig,
    /** This worker's logger. */
    readonly log: Logger,
  ) {}

  /**
   * Sets up orphan protection, signals and the app, then calls run(). The arbiter counts this
   * worker as serving only from run()'s first notify(): a worker that never calls it is killed
   * by --boot-timeout.
   */
  async initProcess(): Promise<void> {
    // 1. Exit with the arbiter: the kernel signals us when it dies; the ppid check covers
    //    an arbiter that died before prctl ran.
    try {
      setParentDeathSignal(SIGQUIT);
    } catch (err) {
      this.log.debug(`No parent-death signal: ${(err as Error).message}`);
    }
    if (process.ppid !== this.ppid) return this.#orphaned();
    // 2. Signals.
    runtime.onSignal("SIGTERM", () => this.handleExit());
    runtime.onSignal("SIGINT", () => this.handleQuit());
    runtime.onSignal("SIGQUIT", () => this.handleQuit());
    runtime.onSignal("SIGUSR1", () => this.handleUsr1());
    // SIGABRT (the arbiter's timeout) kills at once: a blocked loop could not run a listener
    // anyway, and Bun's own handler would print a crash report asking users to file a Bun bug.
    if (this.hooks.workerAbort) runtime.onSignal("SIGABRT", () => this.handleAbort());
    else resetSignalToDefault(SIGABRT);
    // Signals meant for the arbiter that reach the whole process group must not stop a worker.
    for (const sig of ["SIGHUP", "SIGWINCH", "SIGTTIN", "SIGTTOU", "SIGUSR2"]) runtime.onSignal(sig, () => {});
    // 3. The app.
    this.appExport = await this.app.load();
    await this.callHook("postWorkerInit");
    // 4. The request trace, which lets the arbiter say what a worker that went silent was serving.
    if (this.timeout > 0) this.trace = this.board;
    this.booted = true;
    await this.run();
  }

  /** Serve `this.sockets` until `this.alive` turns false. Subclasses must implement it. */
  run(): Promise<void> {
    throw new Error(
      `${this.constructor.name}.run() is not implemented: a Worker subclass must define async run() that serves ` +
        `this.sockets (each has fd, address, kind) until this.stopRequested() resolves (docs/custom-workers.md)`,
    );
  }

  /**
   * The heartbeat: tells the arbiter this worker's event loop is alive. Call it once run() serves:
   * the first call tells the arbiter this worker is ready, and starts a timer that goes on
   * beating (a blocked event loop then goes silent, and --timeout replaces the worker).
   */
  notify(): void {
    if (process.ppid !== this.ppid) return this.#orphaned();
    this.board?.beat();
    if (this.#beatTimer) return;
    this.wake?.wake(); // the first beat: serving, and the arbiter should know now, not at its next tick
    const every = Math.max(100, Math.min(1000, (this.timeout * 1000) / 4 || 1000));
    const counters = this.board?.counters(), lags: number[] = [];
    let last = performance.now();
    this.#beatTimer = setInterval(() => {
      // How late this timer fired is how long the event loop was busy: the app's lag, for
      // /metrics; the largest of the last 10 beats, so a scrape does not miss a stall.
      const now = performance.now();
      lags.push(Math.max(0, now - last - every) / 1000);
      if (lags.length > 10) lags.shift();
      if (counters) writeLag(counters, Math.max(...lags));
      last = now;
      this.notify();
    }, every);
  }

  /** TERM: stop accepting, finish in-flight requests, exit. */
  handleExit(): void {
    // Still importing the app: there is nothing in flight to finish.
    if (!this.booted) process.exit(0);
    this.alive = false;
    this.#stopRequested.resolve();
  }

  /** Resolves when the worker is asked to stop (alive turned false): await it in run(). */
  stopRequested(): Promise<void> {
    return this.#stopRequested.promise;
  }

  /** INT/QUIT: exit now. */
  async handleQuit(): Promise<void> {
    this.alive = false;
    await this.callHook("workerInt");
    await this.callHook("workerExit");
    process.exit(0);
  }

  /** SIGABRT (the arbiter's timeout), when a workerAbort hook wants to see it. */
  async handleAbort(): Promise<void> {
    this.alive = false;
    await this.callHook("workerAbort");
    process.exit(1);
  }

  /**
   * Asks the arbiter to replace this worker (max-requests, or your own reason). It keeps
   * serving; the arbiter starts its replacement first, then sends TERM, so capacity never dips.
   */
  requestRecycle(why: string, reason: RecycleReason = 2): void {
    this.log.info(`Asking to be recycled: ${why}`);
    if (this.board) this.board.requestRecycle(reason), this.wake?.wake();
    else this.handleExit(); // no arbiter to ask: stop gracefully
  }

  /** Runs a worker-side hook with this worker; errors are logged, not thrown. */
  callHook(name: HookName, ...args: unknown[]): Promise<void> {
    return callHook(this.hooks, name, this.log, this, ...args);
  }

  /** USR1: reopen log files. */
  handleUsr1(): void {
    this.onReopenLogs?.();
  }

  /** Set by the bootstrap to reopen this process's log files. */
  onReopenLogs?: () => void;

  /** Stops the heartbeat; call when run() is done. */
  protected stopHeartbeat(): void {
    clearInterval(this.#beatTimer);
  }

  #orphaned(): void {
    this.log.info(`Parent changed, shutting down: worker ${process.pid}`);
    process.exit(0);
  }
}
