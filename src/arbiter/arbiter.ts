// The arbiter: one loop over a signal queue (gunicorn's model). Signal handlers only enqueue;
// the loop dispatches each to a handle<SIG>() method, then reaps, inspects and manages workers.
import process from "node:process";
import { watchForReload } from "./watch.ts";
import { callHook, HOOKS, type HookName, type Hooks } from "../config/hooks.ts";
import { ConfigError, ExitCode, GuvnorError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Listener } from "../sockets/listeners.ts";
import { ArbiterSockets } from "./sockets.ts";
import type { Config } from "../types.ts";
import { setTitle } from "../title.ts";
import { SystemdNotifier } from "./notify.ts";
import { HotUpgrade } from "./upgrade.ts";
import { CrashBrake } from "./brake.ts";
import { type Sig, SignalQueue } from "./signal-queue.ts";
import { type WorkerRecord, WorkerTable } from "./workers.ts";
import type { ArbiterOptions, Reload } from "./options.ts";
import { type ArbiterContext, realContext } from "./context.ts";
import { prepareLogFiles } from "./files.ts";
import { VERSION } from "../version.ts";
import { Observer } from "../control/observer.ts";
import { readCounters, readLag } from "../control/counters.ts";

const WORKER_HOOKS = HOOKS.filter((h) => h.process === "worker").map((h) => h.name);

/** Spawn errors that pass by themselves: the arbiter retries, with the crash brake's delay. */
const TRANSIENT = new Set(["EMFILE", "ENFILE", "EAGAIN", "ENOMEM", "ENOSPC", "EDQUOT"]);

/** Thrown inside the loop to end it with an exit code. */
class Halt {
  constructor(readonly code: number, readonly reason?: string) {}
}

export class Arbiter {
  readonly pid = process.pid;
  cfg: Config;
  hooks: Hooks;
  readonly log: Logger;
  listeners: Listener[] = [];
  numWorkers: number;
  generation = 1;
  readonly #table: WorkerTable;
  readonly #signals: SignalQueue;
  readonly #sockets = new ArbiterSockets();
  readonly #upgrade: HotUpgrade;
  readonly #notify: SystemdNotifier;
  #stopping = false;
  #ready = false;
  #reload?: Reload;
  readonly #brake: CrashBrake;
  /** `guvnor ctl` and /metrics. */
  readonly #observe: Observer;

  constructor(readonly opts: ArbiterOptions, readonly ctx: ArbiterContext = realContext) {
    this.cfg = opts.cfg;
    this.hooks = opts.hooks;
    this.log = opts.log;
    this.numWorkers = opts.cfg.workers;
    this.#signals = new SignalQueue((signal, handler) => ctx.onSignal(signal, handler));
    this.#notify = new SystemdNotifier(opts.log);
    this.#upgrade = new HotUpgrade(opts.log);
    this.#brake = new CrashBrake(opts.log, () => ctx.now());
    this.#table = new WorkerTable({
      cwd: opts.cwd, log: opts.log, ctx, onExit: () => this.#signals.wake(), workerCommand: opts.workerCommand,
      workerHooks: () => {
        const names = WORKER_HOOKS.filter((h) => this.hooks[h]);
        return names.length && this.cfg.config ? { file: this.cfg.config, names } : null;
      },
    });
    this.#observe = new Observer({
      log: opts.log,
      view: () => ({
        generation: this.generation, numWorkers: this.numWorkers, cfg: this.cfg, listeners: this.listeners,
        workers: this.#table.all().map((w) => ({ ...w, beatAt: w.serving ? w.beat.seenAt : null, counters: readCounters(w.board.refresh().counters()), lagSeconds: readLag(w.board.counters()) })),
        slotFds: this.#sockets.slots && Array.from({ length: this.#sockets.slots.count }, (_, i) => this.#sockets.slots!.fdsFor(i)),
        stopping: this.#stopping, reloading: this.#reload !== undefined, upgradeChild: this.#upgrade.child?.pid, upgradeParent: this.#upgrade.parent,
      }),
      verbs: {
        setWorkers: async (n) => void (await this.#setNumWorkers(n), this.#signals.wake()),
        signal: (sig) => this.#signals.push(sig),
        recycle: (pid, why) => {
          const rec = this.#table.all().find((w) => w.pid === pid);
          if (rec) this.log.info(`Recycling worker (pid:${pid}): ${why}`), rec.recycling = true, this.#signals.wake();
          return rec !== undefined;
        },
      },
    });
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
        await this.#signals.sleep(this.#tick());
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
    this.log.info(`Starting guvnor ${VERSION}`);
    setTitle("master", cfg.name);
    await this.#hook("onStarting");
    // What this process inherited (a shell's redirections, a Deno arbiter's own files) never
    // reaches a worker: each spawn hands over exactly its descriptors.
    this.ctx.closeOnExecAll();
    // Clients of the metrics and control sockets hold descriptors here too.
    this.ctx.raiseFdLimit();
    prepareLogFiles([{ file: cfg.accessLogfile, setting: "--access-logfile" }], null);
    if (cfg.workerTmpDir) this.#checkScoreboardDir(cfg.workerTmpDir);
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
    for (const l of this.listeners) this.log.info(`Listening at: ${cfg.certfile ? l.address.replace(/^http:/, "https:") : l.address} (${this.pid})`);
    this.log.info(`Using worker: ${cfg.workerClass}${cfg.runtime !== this.ctx.runtimeName ? ` (on ${cfg.runtime})` : ""}`);
    this.#signals.install();
    if (cfg.reload) watchForReload(cfg, this.opts.cwd, this.log, () => this.#signals.push("SIGHUP"));
    this.#notify.startWatchdog();
    this.#table.listeners = this.listeners;
    this.#table.slots = this.#sockets.slots;
    await this.#manageWorkers();
  }

  /** --worker-tmp-dir: a scoreboard must fit there now, or nothing starts (a full disk is one line). */
  #checkScoreboardDir(dir: string): void {
    try {
      this.ctx.createScoreboard(dir).release();
    } catch (err) {
      throw new ConfigError(`--worker-tmp-dir ${dir}: can't create a worker's scoreboard there: ${(err as { code?: string }).code ?? err}`, { cause: err });
    }
  }

  /** One turn of the loop: reap, handle one signal, inspect heartbeats, manage the workers. */
  async step(): Promise<void> {
    await this.#reapWorkers();
    if (!this.#stopping && this.#sockets.repair(this.log)) for (const rec of this.#table.all()) rec.recycling = true;
    const sig = this.#signals.shift();
    if (sig) await this.#dispatch(sig);
    this.#inspectWorkers();
    if (this.#upgrade.promoteIfOrphaned(this.listeners)) {
      this.#notify.ready("promoted");
      await this.#observe.promoted();
    }
    await this.#manageWorkers();
  }

  /** Every worker record, oldest first (for hooks and tests). */
  get workers(): WorkerRecord[] {
    return this.#table.all();
  }

  /** Queues a signal as if the process had received it (the control socket, tests). */
  signal(sig: Sig): void {
    this.#signals.push(sig);
  }

  /** How long the loop sleeps: short while workers boot or wait to be replaced, else a second. */
  #tick(): number {
    const pending = this.#table.all().some((w) => !w.serving || w.recycling);
    const untilRespawn = this.#brake.until - this.ctx.now();
    return Math.max(10, Math.min(pending ? 100 : 1000, untilRespawn > 0 ? untilRespawn : 1000));
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
    const previous = this.#reload?.previous ?? { cfg: this.cfg, hooks: this.hooks, generation: this.generation };
    this.cfg = next.cfg;
    this.hooks = next.hooks;
    this.generation++;
    this.#reload = { generation: this.generation, previous };
    this.#notify.reloading();
    await this.#hook("onReload");
    await this.#setNumWorkers(this.cfg.workers);
    for (const rec of this.#table.all()) if (rec.generation < this.generation) rec.recycling = true;
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
    await this.#setNumWorkers(this.numWorkers + 1);
  }

  /** TTOU: one worker fewer, never below one. */
  async handleTtou(): Promise<void> {
    if (this.numWorkers > 1) await this.#setNumWorkers(this.numWorkers - 1);
  }

  /** USR1: reopen log files here and in every worker. */
  handleUsr1(): void {
    try {
      this.opts.reopenLogs();
    } catch (err) {
      this.log.warn(`Can't reopen the error log, keeping the old one: ${(err as Error).message}`);
    }
    this.#table.killAll("SIGUSR1");
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
    await this.#setNumWorkers(0);
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
    await this.#reapWorkers();
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
    this.log.info("Shutting down: Master");
    if (reason) this.log.info(`Reason: ${reason}`);
    return code;
  }

  async #setNumWorkers(n: number): Promise<void> {
    const old = this.numWorkers;
    this.numWorkers = n;
    if (n !== old) await this.#hook("nworkersChanged", n, old);
  }

  async #reapWorkers(): Promise<void> {
    for (const { rec, status } of this.#table.reap()) {
      this.#observe.exited(rec, status, readCounters(rec.board.counters())); // the scoreboard's last values
      await this.#hook("childExit", rec, status);
      if (this.#stopping) continue;
      const bootError = status.code === ExitCode.APP_LOAD_ERROR || status.code === ExitCode.WORKER_BOOT_ERROR;
      const reason = status.code === ExitCode.APP_LOAD_ERROR ? "App failed to load." : "Worker failed to boot.";
      // A new generation that cannot boot: keep the old one (gunicorn would halt).
      if (bootError && this.#reload && rec.generation === this.#reload.generation) {
        this.#abortReload(`new workers cannot start (exit ${status.code}: ${reason})`);
        continue;
      }
      // Otherwise a worker that cannot boot stops everything instead of restarting forever. One
      // that served first is a crash like any other: the app must not be able to stop the server.
      if (bootError && !rec.serving && !rec.board.serving) throw new Halt(status.code!, reason);
      this.#brake.record(rec, status);
    }
  }

  #abortReload(why: string): void {
    const r = this.#reload!;
    this.log.error(`Reload failed, keeping the old workers: ${why}`);
    this.#notify.ready("reload failed, old workers serving");
    for (const rec of this.#table.all()) {
      if (rec.generation === r.generation) this.#table.kill(rec, "SIGKILL");
      else rec.recycling = false;
    }
    this.cfg = r.previous.cfg;
    this.hooks = r.previous.hooks;
    this.generation = r.previous.generation;
    this.numWorkers = this.cfg.workers;
    this.#reload = undefined;
  }

  /** Scoreboards: timeouts are killed; workers over max-requests or max-worker-memory are recycled. */
  #inspectWorkers(): void {
    if (this.#stopping) return;
    for (const { rec, why } of this.#table.inspect(this.cfg).recycle) {
      this.log.info(`Recycling worker (pid:${rec.pid}): ${why}`);
      this.#observe.recycling(rec.pid, why);
      rec.recycling = true;
    }
    // A new generation that does not serve in time is a failed reload.
    const r = this.#reload;
    if (r && this.cfg.bootTimeout > 0) {
      const late = this.#table.all().some((w) => w.generation === r.generation && !w.serving && this.ctx.now() - w.spawnedAt > this.cfg.bootTimeout * 1000);
      if (late) this.#abortReload(`new workers did not start serving within ${this.cfg.bootTimeout} s`);
    }
  }

  /** gunicorn's manage_workers: top up, retire the surplus, then replace and announce. */
  async #manageWorkers(): Promise<void> {
    if (this.#stopping) return;
    await this.#spawnMissing();
    this.#retireSurplus();
    const serving = this.#current().filter((w) => w.serving).length;
    if (serving < this.numWorkers) return;
    this.#retireReplaced();
    this.#finishReload(serving);
    await this.#announceReady(serving);
  }

  /** Workers of the current generation that are to stay. */
  #current(): WorkerRecord[] {
    return this.#table.all().filter((w) => w.generation === this.generation && !w.recycling && !w.retiring);
  }

  /** Starts workers up to numWorkers, unless the crash brake holds; a signal that arrives meanwhile goes first. */
  async #spawnMissing(): Promise<void> {
    for (let n = this.#current().length; n < this.numWorkers && this.ctx.now() >= this.#brake.until; n++) {
      await this.#hook("preSpawn", { age: this.#table.nextAge });
      let rec;
      try {
        rec = this.#table.spawn(this.cfg, this.generation);
      } catch (err) {
        if (this.#reload) return this.#abortReload(`can't start a new worker: ${(err as Error).message}`);
        // Out of descriptors, memory or processes passes (and a client could cause it): retry.
        if (TRANSIENT.has((err as { code?: string }).code ?? "")) return this.#brake.failedSpawn((err as Error).message);
        throw err instanceof GuvnorError ? err : new Halt(ExitCode.WORKER_BOOT_ERROR, `Can't start a worker: ${(err as Error).message}`);
      }
      await this.#hook("postSpawn", rec);
      // Let signal handlers run between spawns, so TERM during a large spawn is handled at once.
      await new Promise((r) => setTimeout(r, 0));
      if (this.#signals.pending) return;
    }
  }

  /** Fewer workers wanted (TTOU, WINCH, HUP): the oldest go; with --reuse-port the highest slots, so theirs can close. */
  #retireSurplus(): void {
    const current = this.#current();
    const surplus = this.#table.slots ? [...current].sort((a, b) => b.slot - a.slot) : current;
    for (const rec of surplus.slice(0, Math.max(0, current.length - this.numWorkers))) this.#table.retire(rec);
    if (this.numWorkers > 0) this.#table.trimSlots(this.numWorkers); // WINCH (0 workers) keeps every socket
  }

  /** Recycled and old-generation workers go only once their replacements serve: capacity never dips. */
  #retireReplaced(): void {
    for (const rec of this.#table.all()) if (rec.recycling) this.#table.retire(rec);
  }

  #finishReload(serving: number): void {
    if (!this.#reload) return;
    this.log.info(`Reloaded: ${serving} new worker${serving === 1 ? "" : "s"} serving, the old ones are finishing`);
    this.#reload = undefined;
    this.#notify.ready(`reloaded, ${serving} workers`);
  }

  async #announceReady(serving: number): Promise<void> {
    if (this.#ready || serving === 0) return;
    this.#ready = true;
    this.#notify.ready(`${serving} workers serving`);
    await this.#hook("whenReady");
  }
}
