// The arbiter: one loop over a signal queue (gunicorn's model). Signal handlers only enqueue;
// the loop dispatches each to a handle<SIG>() method, then has its workforce (workforce.ts) reap,
// inspect and manage the workers.
import process from "node:process";
import { watchForReload } from "./watch.ts";
import { callHook, HOOKS, type HookName, type Hooks } from "../config/hooks.ts";
import { ExitCode, GuvnorError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Listener } from "../sockets/listeners.ts";
import { ArbiterSockets } from "./sockets.ts";
import type { Config } from "../types.ts";
import { setTitle } from "../title.ts";
import { SystemdNotifier } from "./notify.ts";
import { HotUpgrade } from "./upgrade.ts";
import { type Sig, SignalQueue } from "./signal-queue.ts";
import type { WorkerRecord, WorkerTable } from "./workers.ts";
import { Halt, Workforce } from "./workforce.ts";
import type { ArbiterOptions } from "./options.ts";
import { type ArbiterContext, realContext } from "./context.ts";
import { prepareLogFiles } from "./files.ts";
import { VERSION } from "../version.ts";
import { Observer } from "../control/observer.ts";
import { readCounters, readLag } from "../control/counters.ts";

const WORKER_HOOKS = HOOKS.filter((h) => h.process === "worker").map((h) => h.name);

export class Arbiter {
  readonly pid = process.pid;
  readonly log: Logger;
  listeners: Listener[] = [];
  readonly #force: Workforce;
  readonly #table: WorkerTable;
  readonly #signals: SignalQueue;
  readonly #sockets = new ArbiterSockets();
  readonly #upgrade: HotUpgrade;
  readonly #notify: SystemdNotifier;
  #stopping = false;
  /** The sockets are bound and "Starting guvnor" was said: a shutdown is said too. */
  #started = false;
  /** `guvnor ctl` and /metrics. */
  readonly #observe: Observer;

  constructor(readonly opts: ArbiterOptions, readonly ctx: ArbiterContext = realContext) {
    this.log = opts.log;
    this.#signals = new SignalQueue((signal, handler) => ctx.onSignal(signal, handler));
    this.#notify = new SystemdNotifier(opts.log);
    this.#upgrade = new HotUpgrade(opts.log);
    this.#observe = new Observer({
      log: opts.log,
      view: () => ({
        generation: this.generation, numWorkers: this.numWorkers, cfg: this.cfg, listeners: this.listeners,
        workers: this.#table.all().map((w) => ({ ...w, beatAt: w.serving ? w.beat.seenAt : null, counters: readCounters(w.board.refresh().counters()), lagSeconds: readLag(w.board.counters()) })),
        slotFds: this.#sockets.slots && Array.from({ length: this.#sockets.slots.count }, (_, i) => this.#sockets.slots!.fdsFor(i)),
        stopping: this.#stopping, reloading: this.#force.reloading, upgradeChild: this.#upgrade.child?.pid, upgradeParent: this.#upgrade.parent,
      }),
      verbs: {
        setWorkers: async (n) => void (await this.#force.setNumWorkers(n), this.#signals.wake()),
        signal: (sig) => this.#signals.push(sig),
        recycle: (pid, why) => {
          const found = this.#force.recycle(pid, why);
          this.#signals.wake();
          return found;
        },
      },
    });
    this.#force = new Workforce({
      log: opts.log, ctx, notify: this.#notify, observe: this.#observe,
      hook: (name, ...args) => this.#hook(name, ...args),
      signalPending: () => this.#signals.pending,
      stopping: () => this.#stopping,
    }, { cfg: opts.cfg, hooks: opts.hooks }, {
      cwd: opts.cwd, onExit: () => this.#signals.wake(), workerCommand: opts.workerCommand,
      workerHooks: () => {
        const names = WORKER_HOOKS.filter((h) => this.hooks[h]);
        return names.length && this.cfg.config ? { file: this.cfg.config, names } : null;
      },
    });
    this.#table = this.#force.table;
  }

  /** The config in force (HUP replaces it; a failed reload puts the previous one back). */
  get cfg(): Config {
    return this.#force.cfg;
  }

  get hooks(): Hooks {
    return this.#force.hooks;
  }

  /** How many workers are wanted (TTIN, TTOU, WINCH, HUP, `guvnor ctl scale` change it). */
  get numWorkers(): number {
    return this.#force.numWorkers;
  }

  /** Workers started by the same config; HUP starts a new generation. */
  get generation(): number {
    return this.#force.generation;
  }

  /**
   * Runs until stopped; resolves to the process exit code. The one way out: whatever ends the
   * loop — a stop signal, a worker that cannot boot, an error nobody expected — goes through
   * #shutdown(), which stops the workers, closes the sockets and removes the pid file.
   */
  async run(): Promise<number> {
    try {
      await this.start();
      for (;;) {
        await this.#signals.sleep(this.#force.sleepMs());
        this.#observe.tick();
        await this.step();
      }
    } catch (err) {
      if (err instanceof Halt) return await this.#shutdown(err.code, err.reason);
      if (err instanceof GuvnorError) {
        this.log.error(err.message);
        return await this.#shutdown(err.exitCode);
      }
      this.log.fatal("Unhandled error in the arbiter", err);
      return await this.#shutdown(ExitCode.USAGE);
    }
  }

  /** Binds every listener, writes the pid file, installs signals: all before the first worker. */
  async start(): Promise<void> {
    const cfg = this.cfg;
    setTitle("master", cfg.name);
    await this.#hook("onStarting");
    // What this process inherited (a shell's redirections, a Deno arbiter's own files) never
    // reaches a worker: each spawn hands over exactly its descriptors.
    this.ctx.closeOnExecAll();
    // Workers print to our terminal, if we have one, but must not read what is typed there.
    this.ctx.writeOnlyTerminal();
    // Clients of the metrics and control sockets hold descriptors here too.
    this.ctx.raiseFdLimit();
    prepareLogFiles([{ file: cfg.accessLogfile, setting: "--access-logfile" }], null);
    if (cfg.workerTmpDir) this.#force.checkScoreboardDir(cfg.workerTmpDir);
    await this.#sockets.open(cfg, this.log);
    this.listeners = this.#sockets.listeners;
    try {
      await this.#observe.open(cfg, !this.#upgrade.parent);
      this.#upgrade.createPidfile(cfg.pid);
    } catch (err) {
      this.#observe.close(this.#upgrade.ownsSockets);
      this.#sockets.close(this.#upgrade.ownsSockets);
      throw err;
    }
    // Said once the sockets are bound: input that fails before (a --bind that cannot be bound, a
    // log file that cannot be opened) is one error line, not an error between two info lines.
    this.log.info(`Starting guvnor ${VERSION}`);
    this.#started = true;
    for (const l of this.listeners) this.log.info(`Listening at: ${cfg.certfile ? l.address.replace(/^http:/, "https:") : l.address} (${this.pid})`);
    this.log.info(`Using worker: ${cfg.workerClass}${cfg.runtime !== this.ctx.runtimeName ? ` (on ${cfg.runtime})` : ""}`);
    this.#signals.install();
    if (cfg.reload) watchForReload(cfg, this.opts.cwd, this.log, () => this.#signals.push("SIGHUP"));
    this.#notify.startWatchdog();
    this.#table.listeners = this.listeners;
    this.#table.slots = this.#sockets.slots;
    await this.#force.manage();
  }

  /** One turn of the loop: reap, handle one signal, inspect heartbeats, manage the workers. */
  async step(): Promise<void> {
    await this.#force.reap();
    if (!this.#stopping && await this.#sockets.repair(this.log)) this.#force.recycleAll();
    const sig = this.#signals.shift();
    if (sig) await this.#dispatch(sig);
    if (!this.#stopping) this.#force.inspect();
    if (this.#upgrade.promoteIfOrphaned(this.listeners)) {
      this.#notify.ready("promoted");
      await this.#observe.promoted();
    }
    if (!this.#stopping) await this.#force.manage();
  }

  /** Every worker record, oldest first (for hooks and tests). */
  get workers(): WorkerRecord[] {
    return this.#table.all();
  }

  /** Queues a signal as if the process had received it (the control socket, tests). */
  signal(sig: Sig): void {
    this.#signals.push(sig);
  }

  #hook(name: HookName, ...args: unknown[]): Promise<void> {
    return callHook(this.hooks, name, this.log, this, ...args);
  }

  async #dispatch(sig: Sig): Promise<void> {
    this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`);
    switch (sig) {
      case "SIGHUP": return await this.handleHup();
      case "SIGTERM": return await this.handleTerm();
      case "SIGINT": return await this.handleInt();
      case "SIGQUIT": return await this.handleInt();
      case "SIGTTIN": return await this.handleTtin();
      case "SIGTTOU": return await this.handleTtou();
      case "SIGUSR1": return this.handleUsr1();
      case "SIGUSR2": return this.handleUsr2();
      case "SIGWINCH": return await this.handleWinch();
    }
  }

  /** HUP: reload the config, start a new generation, retire the old one once the new one serves. */
  async handleHup(): Promise<void> {
    this.log.info("Hang up: Master");
    let next;
    try {
      next = await this.opts.reloadConfig();
    } catch (err) {
      this.log.error(`Reload failed, keeping the current config and workers: ${(err as Error).message}`);
      return;
    }
    if (JSON.stringify(next.cfg.bind) !== JSON.stringify(this.cfg.bind)) {
      this.log.warn("bind changed in the config: the listening sockets stay as they are until a restart");
    }
    await this.#force.beginReload(next);
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

  /** TTIN: one worker more, up to --max-workers. */
  async handleTtin(): Promise<void> {
    if (this.numWorkers >= this.cfg.maxWorkers) return this.log.warn(`TTIN ignored: already at --max-workers ${this.cfg.maxWorkers}`);
    await this.#force.setNumWorkers(this.numWorkers + 1);
  }

  /** TTOU: one worker fewer, never below one. */
  async handleTtou(): Promise<void> {
    if (this.numWorkers <= 1) return this.log.warn("TTOU ignored: one worker is the fewest (WINCH stops them all)");
    await this.#force.setNumWorkers(this.numWorkers - 1);
  }

  /** USR1: reopen log files here and in every worker. */
  handleUsr1(): void {
    try {
      this.opts.reopenLogs();
    } catch (err) {
      this.log.warn(`Can't reopen the error log, keeping the old one: ${(err as Error).message}`);
    }
    // Only workers that serve: a booting one opens its logs afresh anyway, and may not have its
    // handler yet (USR1's default action ends a process).
    for (const rec of this.#table.all()) if (rec.serving) this.#table.tell(rec, "SIGUSR1");
  }

  /** USR2: start a new arbiter from the executable on disk, on the same sockets. */
  handleUsr2(): void {
    const env: Record<string, string> = this.#notify.socketPath ? { NOTIFY_SOCKET: this.#notify.socketPath } : {};
    const { cmd, cwd } = this.opts.upgradeCommand();
    this.#upgrade.start(cmd, cwd, this.listeners, env, (status) => {
      this.log.warn(`New arbiter exited (${status.signal ?? `code ${status.code}`}); this one carries on`);
    }, this.#sockets.slots, this.#observe.handover());
  }

  /** WINCH: gracefully stop every worker; the arbiter and its sockets stay (HUP or TTIN bring workers back). */
  async handleWinch(): Promise<void> {
    this.log.info("graceful stop of workers");
    await this.#force.setNumWorkers(0);
  }

  /** Stops every worker: TERM (graceful, up to graceful-timeout) or QUIT, then SIGKILL what is left. */
  async stop(graceful: boolean): Promise<void> {
    this.#stopping = true;
    this.#notify.stopping();
    // As gunicorn: close our copies first, so once the workers stop accepting, new connections
    // are refused at once (a load balancer retries elsewhere) rather than queued for nobody.
    this.#sockets.close(this.#upgrade.ownsSockets);
    const limit = graceful ? this.cfg.gracefulTimeout * 1000 : 1000;
    await this.#table.stopAll(graceful ? "SIGTERM" : "SIGQUIT", limit);
    await this.#force.reap();
  }

  /** The one way out: no worker left, sockets closed, pid file removed, onExit run. */
  async #shutdown(code: number, reason?: string): Promise<number> {
    if (!this.#stopping) await this.stop(false).catch((err) => this.log.error("Stopping the workers failed", err));
    this.#notify.close();
    this.#table.killAll("SIGKILL");
    this.#sockets.close(this.#upgrade.ownsSockets);
    this.#observe.close(this.#upgrade.ownsSockets);
    this.#upgrade.pidfile?.unlink();
    await this.#hook("onExit");
    if (this.#started) this.log.info("Shutting down: Master");
    if (reason) this.log.info(`Reason: ${reason}`);
    return code;
  }


}
