// Worker processes as the arbiter sees them: spawn, signal, reap, and read their heartbeats.
import fs from "node:fs";
import process from "node:process";
import type { Logger } from "../log/logger.ts";
import { type ChildProcessHandle, type ExitStatus, runtime } from "../runtime/index.ts";
import type { Listener } from "../sockets/listeners.ts";
import type { ReusePortSlots } from "../sockets/slots.ts";
import type { Config } from "../types.ts";
import { resolveIds } from "../config/users.ts";
import { createSharedMemory } from "../sockets/libc.ts";
import { TABLE_BYTES } from "../worker/balance.ts";
import { tlsMaterialFor } from "../config/tls.ts";
import { WORKER_ENV, type WorkerState } from "../worker/state.ts";
import { createHeartbeat, heartbeatPath, lastBeat, readHeartbeatNote, readTrace, removeHeartbeat, tracePath } from "../worker/heartbeat.ts";

export interface WorkerRecord {
  readonly pid: number;
  readonly age: number;
  /** Workers started by the same config; HUP starts a new generation. */
  readonly generation: number;
  readonly handle: ChildProcessHandle;
  readonly heartbeat: string;
  readonly spawnedAt: number;
  /** --reuse-port: the slot whose sockets it serves (0 on the shared sockets). */
  readonly slot: number;
  /** Has beaten at least once: it is serving. */
  booted: boolean;
  /** The last signal the arbiter sent it, so its death is not blamed on others. */
  sent?: string;
  abortedAt?: number;
  /** Still serving, but to be replaced: once its replacement has booted it is retired. */
  recycling: boolean;
  /** Sent TERM; finishing its requests. */
  retiring: boolean;
}

export interface SpawnerOptions {
  cwd: string;
  log: Logger;
  /** argv that starts a worker process for this config. */
  workerCommand: (cfg: Config) => string[];
  /** Names of the worker-side hooks the config file defines. */
  workerHooks: () => string[];
  /** Called when any worker exits, to wake the arbiter's loop. */
  onExit: () => void;
}

export class WorkerSpawner {
  listeners: Listener[] = [];
  /** --reuse-port: per-worker slot sockets; unset, every worker shares the listeners. */
  slots?: ReusePortSlots;
  readonly #workers = new Map<number, WorkerRecord>();
  readonly #exits: { rec: WorkerRecord; status: ExitStatus }[] = [];
  #age = 0;
  #balance?: number;

  constructor(readonly opts: SpawnerOptions) {}

  /** The age the next worker will get. */
  get nextAge(): number {
    return this.#age + 1;
  }

  spawn(cfg: Config, generation: number): WorkerRecord {
    const { cwd, log } = this.opts;
    const age = ++this.#age;
    const heartbeat = heartbeatPath(cfg.workerTmpDir, process.pid, age);
    createHeartbeat(heartbeat);
    const ids = resolveIds(cfg.user, cfg.group);
    if (ids) giveFiles(ids, [heartbeat, cfg.errorLogfile, cfg.accessLogfile]);
    const slot = this.#freeSlot(generation);
    const fds = this.slots ? this.slots.fdsFor(slot) : [...this.listeners.map((l) => l.fd), ...this.#balanceFd()];
    const childFds = runtime.childFds(fds);
    const state: WorkerState = {
      age,
      ppid: process.pid,
      sockets: this.listeners.map((l, i) => ({ fd: childFds[i], address: l.address, kind: l.kind })),
      cfg,
      cwd,
      hooks: this.opts.workerHooks(),
      ids,
      tls: tlsMaterialFor(cfg),
      balanceFd: childFds[this.listeners.length],
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    for (const kv of cfg.env) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
    env[WORKER_ENV] = JSON.stringify(state);
    const start = (fds: number[]) => runtime.spawn({ cmd: this.opts.workerCommand(cfg), env, cwd, fds });
    const handle = this.slots ? this.slots.withSlot(slot, start) : start(fds);
    const rec: WorkerRecord = {
      pid: handle.pid, age, generation, handle, heartbeat, spawnedAt: Date.now(), slot, booted: false, recycling: false, retiring: false,
    };
    this.#workers.set(rec.pid, rec);
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
      this.#balance ??= createSharedMemory("guvnor-balance", TABLE_BYTES);
    } catch (err) {
      this.#balance = -1;
      this.opts.log.debug(`No balance table: ${(err as Error).message}`);
    }
    return this.#balance < 0 ? [] : [this.#balance];
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
      removeHeartbeat(rec.heartbeat);
      const log = this.opts.log;
      if (status.signal) {
        const ours = rec.sent === status.signal;
        if (ours && (status.signal === "SIGTERM" || status.signal === "SIGQUIT")) log.info(`Worker (pid:${rec.pid}) exited on ${status.signal}`);
        else if (ours) log.warn(`Worker (pid:${rec.pid}) was sent ${status.signal} by the arbiter`);
        else log.error(`Worker (pid:${rec.pid}) was sent ${status.signal}!${status.signal === "SIGKILL" ? " Perhaps out of memory?" : ""}`);
      } else if (status.code !== 0) {
        log.error(`Worker (pid:${rec.pid}) exited with code ${status.code}`);
      }
    }
    return out;
  }

  /**
   * Reads every worker's heartbeat: marks the booted, kills the silent (SIGABRT, then SIGKILL a
   * second later) and the ones that never booted, and returns those asking to be recycled.
   */
  inspect(cfg: Config): { recycle: { rec: WorkerRecord; why: string }[] } {
    const now = Date.now(), recycle: { rec: WorkerRecord; why: string }[] = [];
    for (const rec of this.#workers.values()) {
      const beat = lastBeat(rec.heartbeat);
      if (beat === null || rec.sent === "SIGKILL") continue;
      if (beat > 0) rec.booted = true;
      if (!rec.booted) {
        if (cfg.bootTimeout > 0 && now - rec.spawnedAt > cfg.bootTimeout * 1000) {
          this.opts.log.fatal(`WORKER BOOT TIMEOUT (pid:${rec.pid}): not serving ${cfg.bootTimeout} s after it was spawned`);
          this.kill(rec, "SIGKILL");
        }
        continue;
      }
      if (cfg.timeout > 0 && now - beat > cfg.timeout * 1000) {
        if (rec.abortedAt === undefined) {
          const t = readTrace(tracePath(rec.heartbeat));
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
      const note = readHeartbeatNote(rec.heartbeat);
      if (note) recycle.push({ rec, why: note });
      else if (cfg.maxWorkerMemory > 0) {
        const rss = rssMiB(rec.pid);
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

/** Files a worker running as another user must write: its heartbeat and the log files. */
function giveFiles(ids: { uid: number; gid: number }, files: string[]): void {
  for (const f of files) {
    if (!f || f === "-") continue;
    fs.closeSync(fs.openSync(f, "a"));
    fs.chownSync(f, ids.uid, ids.gid);
  }
}

/** Resident memory of a process in MiB (Linux), 0 when unknown. */
function rssMiB(pid: number): number {
  try {
    const kb = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m);
    return kb ? Math.round(Number(kb[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}
