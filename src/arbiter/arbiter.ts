// The arbiter: one loop over a signal queue (gunicorn's model). Signal handlers only enqueue;
// the loop dispatches each to a handle<SIG>() method, then reaps, murders and tops up workers.
import process from "node:process";
import { ExitCode } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { runtime } from "../runtime/index.ts";
import { closeListeners, createListeners, type Listener } from "../sockets/listeners.ts";
import type { Config } from "../types.ts";
import { setTitle } from "../title.ts";
import { Pidfile } from "./pidfile.ts";
import { type WorkerRecord, WorkerSpawner } from "./spawner.ts";

export const VERSION = "0.1.0";

const SIGNALS = ["SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;
type Sig = (typeof SIGNALS)[number];

/** Thrown inside the loop to end it with an exit code. */
class Halt {
  constructor(readonly code: number, readonly reason?: string) {}
}

export interface ArbiterOptions {
  cfg: Config;
  /** Directory the app path is relative to. */
  cwd: string;
  log: Logger;
  /** Reopens the arbiter's own log files (USR1). */
  reopenLogs: () => void;
}

export class Arbiter {
  readonly pid = process.pid;
  readonly cfg: Config;
  readonly log: Logger;
  listeners: Listener[] = [];
  numWorkers: number;
  readonly #spawner: WorkerSpawner;
  readonly #signals: Sig[] = [];
  #wake: () => void = () => {};
  #pidfile?: Pidfile;

  constructor(readonly opts: ArbiterOptions) {
    this.cfg = opts.cfg;
    this.log = opts.log;
    this.numWorkers = opts.cfg.workers;
    this.#spawner = new WorkerSpawner({ cfg: opts.cfg, cwd: opts.cwd, log: opts.log, onExit: () => this.#wake() });
  }

  /** Runs until stopped; resolves to the process exit code. */
  async run(): Promise<number> {
    try {
      await this.start();
      for (;;) {
        await this.#sleep(Math.max(10, Math.min(1000, this.#spawner.respawnAt - Date.now() || 1000)));
        this.#reapWorkers();
        const sig = this.#signals.shift();
        if (sig) await this.#dispatch(sig);
        this.#murderWorkers();
        this.#manageWorkers();
      }
    } catch (err) {
      if (!(err instanceof Halt)) throw err;
      return this.#halt(err.code, err.reason);
    }
  }

  /** Binds every listener, writes the pid file, installs signals: all before the first worker. */
  async start(): Promise<void> {
    const cfg = this.cfg;
    this.log.info(`Starting guvnor ${VERSION}`);
    setTitle("master", cfg.name);
    this.listeners = await createListeners(cfg.bind, { backlog: cfg.backlog, umask: cfg.umask, log: this.log });
    if (cfg.pid) {
      this.#pidfile = new Pidfile(cfg.pid);
      try {
        this.#pidfile.create();
      } catch (err) {
        closeListeners(this.listeners);
        throw err;
      }
    }
    for (const l of this.listeners) this.log.info(`Listening at: ${l.address} (${this.pid})`);
    this.log.info(`Using worker: ${cfg.workerClass}${cfg.runtime !== runtime.name ? ` (on ${cfg.runtime})` : ""}`);
    for (const sig of SIGNALS) runtime.onSignal(sig, () => this.#enqueue(sig));
    this.#spawner.listeners = this.listeners;
    this.#manageWorkers();
  }

  #enqueue(sig: Sig): void {
    if (this.#signals.length < 5) this.#signals.push(sig);
    this.#wake();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => { clearTimeout(t); resolve(); };
    });
  }

  async #dispatch(sig: Sig): Promise<void> {
    this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`);
    switch (sig) {
      case "SIGTERM": return await this.handleTerm();
      case "SIGINT": return await this.handleInt();
      case "SIGQUIT": return await this.handleInt();
      case "SIGTTIN": return this.handleTtin();
      case "SIGTTOU": return this.handleTtou();
      case "SIGUSR1": return this.handleUsr1();
      case "SIGWINCH": return this.handleWinch();
      case "SIGHUP":
      case "SIGUSR2":
        this.log.warn(`${sig} is not supported yet; ignoring it`);
    }
  }

  /** TERM: graceful stop. */
  async handleTerm(): Promise<never> {
    await this.stop(true);
    throw new Halt(ExitCode.OK);
  }

  /** INT/QUIT: quick stop. */
  async handleInt(): Promise<never> {
    await this.stop(false);
    throw new Halt(ExitCode.OK);
  }

  /** TTIN: one worker more. */
  handleTtin(): void {
    this.numWorkers++;
  }

  /** TTOU: one worker fewer, never below one. */
  handleTtou(): void {
    if (this.numWorkers > 1) this.numWorkers--;
  }

  /** USR1: reopen log files here and in every worker. */
  handleUsr1(): void {
    this.opts.reopenLogs();
    this.#spawner.killAll("SIGUSR1");
  }

  /** WINCH: gracefully stop every worker; the arbiter and its sockets stay. */
  handleWinch(): void {
    this.log.info("graceful stop of workers");
    this.numWorkers = 0;
  }

  /** Stops every worker: TERM (graceful, up to graceful-timeout) or QUIT, then SIGKILL what is left. */
  async stop(graceful: boolean): Promise<void> {
    this.#spawner.stopping = true;
    const limit = graceful ? this.cfg.gracefulTimeout * 1000 : 1000;
    await this.#spawner.stopAll(graceful ? "SIGTERM" : "SIGQUIT", limit);
  }

  /** Closes the sockets, removes the pid file: the one way out of the arbiter. */
  #halt(code: number, reason?: string): number {
    this.#spawner.killAll("SIGKILL");
    closeListeners(this.listeners);
    this.#pidfile?.unlink();
    this.log.info("Shutting down: Master");
    if (reason) this.log.info(`Reason: ${reason}`);
    return code;
  }

  #reapWorkers(): void {
    for (const { rec, status } of this.#spawner.reap()) {
      if (this.#spawner.stopping) continue;
      // A worker that cannot boot stops everything instead of restarting forever.
      if (status.code === ExitCode.APP_LOAD_ERROR) throw new Halt(ExitCode.APP_LOAD_ERROR, "App failed to load.");
      if (status.code === ExitCode.WORKER_BOOT_ERROR) throw new Halt(ExitCode.WORKER_BOOT_ERROR, "Worker failed to boot.");
      void rec;
    }
  }

  /** Kills workers whose heartbeat is older than timeout (SIGABRT, then SIGKILL). */
  #murderWorkers(): void {
    if (this.cfg.timeout > 0) this.#spawner.murder(this.cfg.timeout * 1000);
  }

  /** Tops the worker count up to numWorkers, or retires the oldest beyond it. */
  #manageWorkers(): void {
    if (this.#spawner.stopping || Date.now() < this.#spawner.respawnAt) return;
    const live = this.#spawner.active();
    for (let n = live.length; n < this.numWorkers; n++) this.#spawner.spawn();
    const excess = live.length - this.numWorkers;
    if (excess > 0) for (const rec of live.slice(0, excess)) this.#spawner.retire(rec);
  }
}

export type { WorkerRecord };
