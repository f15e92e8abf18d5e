// The arbiter's table of workers: spawn, signal, reap, and read their scoreboards.
import process from "node:process";
import type { Logger } from "../log/logger.ts";
import type { ChildProcessHandle, ExitStatus } from "../runtime/index.ts";
import type { Listener } from "../sockets/listeners.ts";
import type { ReusePortSlots } from "../sockets/slots.ts";
import type { Config } from "../types.ts";
import { resolveIds } from "../config/users.ts";
import { type WorkerState, workerEnv } from "../handoff.ts";
import type { Scoreboard } from "../worker/scoreboard.ts";
import type { ArbiterContext, NewScoreboard } from "./context.ts";
import { prepareLogFiles } from "./files.ts";
import { launchEnvironment } from "./environment.ts";
import { startAs } from "./identity.ts";
import { TABLE_BYTES } from "../worker/balance.ts";
import { tlsMaterialFor } from "../config/tls.ts";

export interface WorkerRecord {
  readonly pid: number;
  readonly age: number;
  /** Workers started by the same config; HUP starts a new generation. */
  readonly generation: number;
  readonly handle: ChildProcessHandle;
  /** What the worker publishes: heartbeat, readiness, recycle request, current request. */
  readonly board: Scoreboard;
  readonly spawnedAt: number;
  /** --reuse-port: the slot whose sockets it serves (0 on the shared sockets). */
  readonly slot: number;
  /** The worker said it serves (its first heartbeat); until then it is booting. */
  serving: boolean;
  /** The scoreboard's beat value last seen, and when (the arbiter's clock) it last changed. */
  beat: { value: number; seenAt: number };
  /** The last signal the arbiter sent it, so its death is not blamed on others. */
  sent?: string;
  /** Killed because it never said it serves (--boot-timeout): a failed start, for the crash brake. */
  bootTimedOut?: boolean;
  abortedAt?: number;
  /** Still serving, but to be replaced: once its replacement serves it is retired. */
  recycling: boolean;
  /** Sent TERM; finishing its requests. */
  retiring: boolean;
}

export interface WorkerTableOptions {
  cwd: string;
  log: Logger;
  ctx: ArbiterContext;
  /** argv that starts a worker process for this config. */
  workerCommand: (cfg: Config) => string[];
  /** The config file and the worker-side hooks it defines, or null. */
  workerHooks: () => { file: string; names: string[] } | null;
  /** Called when any worker exits or has news (it serves, it asks to be recycled), to wake the arbiter's loop. */
  onExit: () => void;
}

export class WorkerTable {
  listeners: Listener[] = [];
  /** --reuse-port: per-worker slot sockets; unset, every worker shares the listeners. */
  slots?: ReusePortSlots;
  readonly #workers = new Map<number, WorkerRecord>();
  readonly #exits: { rec: WorkerRecord; status: ExitStatus }[] = [];
  readonly #release = new Map<WorkerRecord, () => void>();
  #age = 0;
  #balance?: number;
  #wake?: number;

  constructor(readonly opts: WorkerTableOptions) {}

  /** The age the next worker will get. */
  get nextAge(): number {
    return this.#age + 1;
  }

  /** Starts one worker of `generation`, already running as --user, with its scoreboard and sockets. */
  spawn(cfg: Config, generation: number): WorkerRecord {
    const { cwd, log, ctx } = this.opts;
    const ids = resolveIds(cfg.user, cfg.group);
    const drop = ids && (ids.uid !== process.getuid?.() || ids.gid !== process.getgid?.()) ? ids : null;
    try {
      prepareLogFiles([
        { file: cfg.errorLogfile, setting: "--error-logfile" },
        { file: cfg.accessLogfile, setting: "--access-logfile" },
      ], drop);
    } catch (err) {
      // Checked at start; a file replaced since (by a worker: it owns it) must not stop the
      // service. The worker opens it itself, as its user, or logs to stderr.
      log.error((err as Error).message);
    }
    const slot = this.#freeSlot(generation);
    const sockets = this.slots ? this.slots.fdsFor(slot) : this.listeners.map((l) => l.fd);
    const balance = this.slots ? [] : this.#balanceFd();
    const wake = this.#wakeFd();
    const sb: NewScoreboard = ctx.createScoreboard(cfg.workerTmpDir);
    const material = tlsMaterialFor(cfg);
    const secret = material && new TextEncoder().encode(JSON.stringify(material));
    const tls = secret ? [ctx.createFileWith(secret)] : [];
    const fds = [...sockets, ...balance, ...wake, sb.fd, ...tls];
    const childFds = ctx.childFds(fds);
    const age = ++this.#age;
    const { config: _file, checkConfig: _check, printConfig: _print, ...workerCfg } = cfg;
    const state: WorkerState = {
      v: 1,
      age,
      ppid: process.pid,
      sockets: this.listeners.map((l, i) => ({ fd: childFds[i], address: l.address, kind: l.kind })),
      scoreboardFd: childFds[sockets.length + balance.length + wake.length],
      balanceFd: balance.length ? childFds[sockets.length] : undefined,
      wakeFd: wake.length ? childFds[sockets.length + balance.length] : undefined,
      cfg: workerCfg,
      cwd,
      hooks: this.opts.workerHooks(),
      ids,
      tls: secret ? { fd: childFds[fds.length - 1], bytes: secret.length } : undefined,
    };
    const env = workerEnv(launchEnvironment(), cfg.env, state);
    let handle: ChildProcessHandle;
    try {
      const as = drop ? startAs(this.opts.workerCommand(cfg), drop) : { cmd: this.opts.workerCommand(cfg) };
      const start = (fds: number[]) => ctx.spawn({ ...as, env, cwd, fds: [...fds, ...balance, ...wake, sb.fd, ...tls] });
      handle = start(sockets);
    } catch (err) {
      sb.release();
      throw err;
    } finally {
      for (const fd of tls) ctx.closeFd(fd); // the child has its copy; the arbiter keeps the scoreboard's, to read
    }
    const rec: WorkerRecord = {
      pid: handle.pid, age, generation, handle, board: sb.board, spawnedAt: ctx.now(), slot, serving: false, recycling: false, retiring: false,
      beat: { value: 0, seenAt: ctx.now() },
    };
    this.#workers.set(rec.pid, rec);
    this.#release.set(rec, sb.release);
    handle.exited.then((status) => {
      this.#exits.push({ rec, status });
      this.opts.onExit();
    });
    log.debug(`Spawned worker ${age} (pid: ${rec.pid}, generation ${generation})`);
    return rec;
  }

  /**
   * The table the workers of the shared sockets balance their connections through (worker/balance.ts):
   * one for all of them, made at the first spawn, never read by the arbiter. None when it cannot be made.
   */
  #balanceFd(): number[] {
    try {
      this.#balance ??= this.opts.ctx.createSharedMemory(TABLE_BYTES);
    } catch (err) {
      this.#balance = -1;
      this.opts.log.debug(`No balance table: ${(err as Error).message}`);
    }
    return this.#balance < 0 ? [] : [this.#balance];
  }

  /** The wake-up channel every worker writes to when it has news (arbiter/wake.ts), made at the first spawn. */
  #wakeFd(): number[] {
    this.#wake ??= this.opts.ctx.openWakeChannel?.(() => this.opts.onExit()) ?? -1;
    return this.#wake < 0 ? [] : [this.#wake];
  }

  /** The lowest slot no serving worker of `generation` holds: a replaced worker's slot goes to its replacement. */
  #freeSlot(generation: number): number {
    if (!this.slots) return 0;
    const held = new Set([...this.#workers.values()].filter((w) => w.generation === generation && !w.recycling && !w.retiring).map((w) => w.slot));
    let slot = 0;
    while (held.has(slot)) slot++;
    return slot;
  }

  /** --reuse-port: closes the slots beyond `keep` that no live worker holds. */
  trimSlots(keep: number): void {
    this.slots?.trim(keep, new Set([...this.#workers.values()].map((w) => w.slot)));
  }

  all(): WorkerRecord[] {
    return [...this.#workers.values()].sort((a, b) => a.age - b.age);
  }

  /** A signal the worker handles and lives through (USR1): not remembered as the cause of its end. */
  tell(rec: WorkerRecord, signal: string): void {
    try {
      rec.handle.kill(signal);
    } catch {
      // already gone
    }
  }

  kill(rec: WorkerRecord, signal: string): void {
    rec.sent = signal;
    try {
      rec.handle.kill(signal);
    } catch {
      // already gone; its exit is on its way
    }
  }

  killAll(signal: string): void {
    for (const rec of this.#workers.values()) this.kill(rec, signal);
  }

  /** Graceful stop of one worker. */
  retire(rec: WorkerRecord): void {
    if (rec.retiring) return;
    rec.retiring = true;
    this.kill(rec, "SIGTERM");
  }

  /** Workers that exited since the last call, each logged with its cause. */
  reap(): { rec: WorkerRecord; status: ExitStatus }[] {
    const out = this.#exits.splice(0);
    for (const { rec, status } of out) {
      this.#workers.delete(rec.pid);
      // The worker led its own process group: what the app forked goes with it. (While any
      // member lives, the kernel hands out no pid equal to the group id, so this hits only it.)
      this.opts.ctx.killGroup(rec.pid);
      rec.board.refresh(); // its last values, for the exit's counters
      this.#release.get(rec)?.();
      this.#release.delete(rec);
      const log = this.opts.log;
      if (status.signal) {
        const ours = rec.sent === status.signal;
        if (ours && (status.signal === "SIGTERM" || status.signal === "SIGQUIT")) log.info(`Worker (pid:${rec.pid}) exited on ${status.signal}`);
        else if (ours) log.warn(`Worker (pid:${rec.pid}) was sent ${status.signal} by the arbiter`);
        else log.error(`Worker (pid:${rec.pid}) was sent ${status.signal}!${status.signal === "SIGKILL" ? " Perhaps out of memory?" : ""}`);
      } else if (status.code !== 0) {
        log.error(`Worker (pid:${rec.pid}) exited with code ${status.code}`);
      } else if (!rec.retiring && !rec.recycling && rec.sent === undefined) {
        log.warn(`Worker (pid:${rec.pid}) exited on its own (code 0)`);
      }
    }
    return out;
  }

  /**
   * Reads every scoreboard: marks the workers that serve, kills the silent (SIGABRT, then SIGKILL
   * a second later) and the ones that never said they serve, and returns those to recycle.
   */
  inspect(cfg: Config): { recycle: { rec: WorkerRecord; why: string }[] } {
    const now = this.opts.ctx.now(), recycle: { rec: WorkerRecord; why: string }[] = [];
    for (const rec of this.#workers.values()) {
      if (rec.sent === "SIGKILL") continue;
      rec.board.refresh();
      if (rec.board.serving) rec.serving = true;
      if (!rec.serving) {
        if (cfg.bootTimeout > 0 && now - rec.spawnedAt > cfg.bootTimeout * 1000) {
          this.opts.log.fatal(`WORKER BOOT TIMEOUT (pid:${rec.pid}): not serving ${cfg.bootTimeout} s after it was spawned`);
          rec.bootTimedOut = true;
          this.kill(rec, "SIGKILL");
        }
        continue;
      }
      const value = rec.board.lastBeat;
      // Object.is: NaN, which never equals itself, must not count as a new beat every time.
      if (!Object.is(value, rec.beat.value)) rec.beat = { value, seenAt: now };
      const beat = rec.beat.seenAt;
      if (cfg.timeout > 0 && now - beat > cfg.timeout * 1000) {
        if (rec.abortedAt === undefined) {
          const t = rec.board.trace();
          const serving = t ? `; last request started: ${t.request} (${((now - t.startedAt) / 1000).toFixed(1)} s ago)` : "";
          this.opts.log.fatal(`WORKER TIMEOUT (pid:${rec.pid}): no heartbeat for ${((now - beat) / 1000).toFixed(1)} s${serving}`);
          rec.abortedAt = now;
          this.kill(rec, "SIGABRT");
        } else if (now - rec.abortedAt >= 1000) {
          this.kill(rec, "SIGKILL");
        }
        continue;
      }
      if (rec.recycling || rec.retiring) continue;
      const asked = rec.board.recycleRequest;
      if (asked) recycle.push({ rec, why: asked });
      else if (cfg.maxWorkerMemory > 0) {
        const rss = Math.round(this.opts.ctx.rssBytes(rec.pid) / 1024 / 1024);
        if (rss > cfg.maxWorkerMemory) recycle.push({ rec, why: `memory ${rss} MiB > max-worker-memory ${cfg.maxWorkerMemory} MiB` });
      }
    }
    return { recycle };
  }

  /** Sends `signal` to every worker and waits up to limitMs for them; SIGKILLs the rest. */
  async stopAll(signal: string, limitMs: number): Promise<void> {
    const all = () => Promise.all([...this.#workers.values()].map((w) => w.handle.exited));
    this.killAll(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      all().then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), limitMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.killAll("SIGKILL");
      await all();
    }
  }
}
