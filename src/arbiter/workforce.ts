// Which workers run: gunicorn's manage_workers, reap_workers and murder_workers, and the
// generations a HUP starts. A new generation replaces the old one only once it serves; one that
// cannot boot is thrown away and the old one kept. The arbiter (arbiter.ts) owns the loop,
// the signals and the sockets, and asks this what to do with its workers.
import type { HookName, Hooks } from "../config/hooks.ts";
import { ConfigError, ExitCode, GuvnorError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Config } from "../types.ts";
import { readCounters } from "../control/counters.ts";
import type { Observer } from "../control/observer.ts";
import { CrashBrake } from "./brake.ts";
import type { ArbiterContext } from "./context.ts";
import type { SystemdNotifier } from "./notify.ts";
import type { Reload } from "./options.ts";
import { type WorkerRecord, WorkerTable, type WorkerTableOptions } from "./workers.ts";

/** Spawn errors that pass by themselves: retried, with the crash brake's delay. */
const TRANSIENT = new Set(["EMFILE", "ENFILE", "EAGAIN", "ENOMEM", "ENOSPC", "EDQUOT"]);

/** Thrown inside the arbiter's loop to end it with an exit code. */
export class Halt {
  constructor(readonly code: number, readonly reason?: string) {}
}

/** What the workforce needs of the arbiter it works for. */
export interface WorkforceHost {
  readonly log: Logger;
  readonly ctx: ArbiterContext;
  readonly notify: SystemdNotifier;
  readonly observe: Observer;
  hook(name: HookName, ...args: unknown[]): Promise<void>;
  /** A signal waits: the spawn loop stops so the arbiter handles it at once. */
  signalPending(): boolean;
  stopping(): boolean;
}

export class Workforce {
  /** The config and hooks in force (a failed reload puts the previous ones back). */
  cfg: Config;
  hooks: Hooks;
  numWorkers: number;
  generation = 1;
  readonly table: WorkerTable;
  readonly #brake: CrashBrake;
  #reload?: Reload;
  #ready = false;

  constructor(readonly host: WorkforceHost, start: { cfg: Config; hooks: Hooks }, table: Omit<WorkerTableOptions, "log" | "ctx">) {
    this.cfg = start.cfg;
    this.hooks = start.hooks;
    this.numWorkers = start.cfg.workers;
    this.#brake = new CrashBrake(host.log, () => host.ctx.now());
    this.table = new WorkerTable({ ...table, log: host.log, ctx: host.ctx });
  }

  get reloading(): boolean {
    return this.#reload !== undefined;
  }

  /** How long the loop may sleep: short while workers boot or wait to be replaced, else a second. */
  sleepMs(): number {
    const pending = this.table.all().some((w) => !w.serving || w.recycling);
    const untilRespawn = this.#brake.until - this.host.ctx.now();
    return Math.max(10, Math.min(pending ? 100 : 1000, untilRespawn > 0 ? untilRespawn : 1000));
  }

  /** HUP with a config that loaded: a new generation, which replaces the old one once it serves. */
  async beginReload(next: { cfg: Config; hooks: Hooks }): Promise<void> {
    const previous = this.#reload?.previous ?? { cfg: this.cfg, hooks: this.hooks, generation: this.generation };
    this.cfg = next.cfg;
    this.hooks = next.hooks;
    this.generation++;
    this.#reload = { generation: this.generation, previous };
    this.host.notify.reloading();
    await this.host.hook("onReload");
    await this.setNumWorkers(this.cfg.workers);
    for (const rec of this.table.all()) if (rec.generation < this.generation) rec.recycling = true;
  }

  /** --worker-tmp-dir: a scoreboard must fit there now, or nothing starts (a full disk is one line). */
  checkScoreboardDir(dir: string): void {
    try {
      this.host.ctx.createScoreboard(dir).release();
    } catch (err) {
      throw new ConfigError(`--worker-tmp-dir ${dir}: can't create a worker's scoreboard there: ${(err as { code?: string }).code ?? err}`, { cause: err });
    }
  }

  /** Every worker is to be replaced, its replacement first. */
  recycleAll(): void {
    for (const rec of this.table.all()) rec.recycling = true;
  }

  /** One worker is to be replaced, its replacement first; false if there is no such worker. */
  recycle(pid: number, why: string): boolean {
    const rec = this.table.all().find((w) => w.pid === pid);
    if (!rec) return false;
    this.host.log.info(`Recycling worker (pid:${pid}): ${why}`);
    rec.recycling = true;
    return true;
  }

  async setNumWorkers(n: number): Promise<void> {
    const old = this.numWorkers;
    this.numWorkers = n;
    if (n !== old) await this.host.hook("nworkersChanged", n, old);
  }

  async reap(): Promise<void> {
    for (const { rec, status } of this.table.reap()) {
      this.host.observe.exited(rec, status, readCounters(rec.board.counters())); // the scoreboard's last values
      await this.host.hook("childExit", rec, status);
      if (this.host.stopping()) continue;
      const bootError = status.code === ExitCode.APP_LOAD_ERROR || status.code === ExitCode.WORKER_BOOT_ERROR;
      const reason = status.code === ExitCode.APP_LOAD_ERROR ? "App failed to load." : "Worker failed to boot.";
      // A new generation that cannot boot: keep the old one (gunicorn would halt).
      if (bootError && this.#reload && rec.generation === this.#reload.generation) {
        this.abortReload(`new workers cannot start (exit ${status.code}: ${reason})`);
        continue;
      }
      // Otherwise a worker that cannot boot stops everything instead of restarting forever. One
      // that served first is a crash like any other: the app must not be able to stop the server.
      if (bootError && !rec.serving && !rec.board.serving) throw new Halt(status.code!, reason);
      this.#brake.record(rec, status);
    }
  }

  abortReload(why: string): void {
    const r = this.#reload!;
    this.host.log.error(`Reload failed, keeping the old workers: ${why}`);
    this.host.notify.ready("reload failed, old workers serving");
    for (const rec of this.table.all()) {
      if (rec.generation === r.generation) this.table.kill(rec, "SIGKILL");
      else rec.recycling = false;
    }
    this.cfg = r.previous.cfg;
    this.hooks = r.previous.hooks;
    this.generation = r.previous.generation;
    this.numWorkers = this.cfg.workers;
    this.#reload = undefined;
  }

  /** Scoreboards: timeouts are killed; workers over max-requests or max-worker-memory are recycled. */
  inspect(): void {
    if (this.host.stopping()) return;
    for (const { rec, why } of this.table.inspect(this.cfg).recycle) {
      this.host.log.info(`Recycling worker (pid:${rec.pid}): ${why}`);
      this.host.observe.recycling(rec.pid, why);
      rec.recycling = true;
    }
    // A new generation that does not serve in time is a failed reload.
    const r = this.#reload;
    if (r && this.cfg.bootTimeout > 0) {
      const late = this.table.all().some((w) => w.generation === r.generation && !w.serving && this.host.ctx.now() - w.spawnedAt > this.cfg.bootTimeout * 1000);
      if (late) this.abortReload(`new workers did not start serving within ${this.cfg.bootTimeout} s`);
    }
  }

  /** gunicorn's manage_workers: top up, retire the surplus, then replace and announce. */
  async manage(): Promise<void> {
    if (this.host.stopping()) return;
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
    return this.table.all().filter((w) => w.generation === this.generation && !w.recycling && !w.retiring);
  }

  /** Starts workers up to numWorkers, unless the crash brake holds; a signal that arrives meanwhile goes first. */
  async #spawnMissing(): Promise<void> {
    for (let n = this.#current().length; n < this.numWorkers && this.host.ctx.now() >= this.#brake.until; n++) {
      await this.host.hook("preSpawn", { age: this.table.nextAge });
      let rec;
      try {
        rec = this.table.spawn(this.cfg, this.generation);
      } catch (err) {
        if (this.#reload) return this.abortReload(`can't start a new worker: ${(err as Error).message}`);
        // Out of descriptors, memory or processes passes (and a client could cause it): retry.
        if (TRANSIENT.has((err as { code?: string }).code ?? "")) return this.#brake.failedSpawn((err as Error).message);
        throw err instanceof GuvnorError ? err : new Halt(ExitCode.WORKER_BOOT_ERROR, `Can't start a worker: ${(err as Error).message}`);
      }
      await this.host.hook("postSpawn", rec);
      // Let signal handlers run between spawns, so TERM during a large spawn is handled at once.
      await new Promise((r) => setTimeout(r, 0));
      if (this.host.signalPending()) return;
    }
  }

  /** Fewer workers wanted (TTOU, WINCH, HUP): the oldest go; with --reuse-port the highest slots, so theirs can close. */
  #retireSurplus(): void {
    const current = this.#current();
    const surplus = this.table.slots ? [...current].sort((a, b) => b.slot - a.slot) : current;
    for (const rec of surplus.slice(0, Math.max(0, current.length - this.numWorkers))) this.table.retire(rec);
    if (this.numWorkers > 0) this.table.trimSlots(this.numWorkers); // WINCH (0 workers) keeps every socket
  }

  /** Recycled and old-generation workers go only once their replacements serve: capacity never dips. */
  #retireReplaced(): void {
    for (const rec of this.table.all()) if (rec.recycling) this.table.retire(rec);
  }

  #finishReload(serving: number): void {
    if (!this.#reload) return;
    this.host.log.info(`Reloaded: ${serving} new worker${serving === 1 ? "" : "s"} serving, the old ones are finishing`);
    this.#reload = undefined;
    this.host.notify.ready(`reloaded, ${serving} workers`);
  }

  async #announceReady(serving: number): Promise<void> {
    if (this.#ready || serving === 0) return;
    this.#ready = true;
    this.host.notify.ready(`${serving} workers serving`);
    await this.host.hook("whenReady");
  }
}
