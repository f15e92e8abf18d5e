// Worker processes as the arbiter sees them: spawn, signal, reap, time out.
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log/logger.ts";
import { type ChildProcessHandle, type ExitStatus, runtime } from "../runtime/index.ts";
import { scriptCommand } from "../runtime/command.ts";
import type { Listener } from "../sockets/listeners.ts";
import type { Config } from "../types.ts";
import { WORKER_ENV, type WorkerState } from "../worker/bootstrap.ts";
import { createHeartbeat, heartbeatPath, lastBeat, removeHeartbeat } from "../worker/heartbeat.ts";

export interface WorkerRecord {
  pid: number;
  age: number;
  handle: ChildProcessHandle;
  heartbeat: string;
  spawnedAt: number;
  /** The last signal the arbiter sent it, so its death is not blamed on others. */
  sent?: string;
  abortedAt?: number;
  /** Asked to stop (TTOU, recycling); no longer counted as serving. */
  retiring: boolean;
}

export interface SpawnerOptions {
  cfg: Config;
  cwd: string;
  log: Logger;
  /** Called when any worker exits, to wake the arbiter's loop. */
  onExit: () => void;
}

const WORKER_MAIN = fileURLToPath(new URL("../worker/main.ts", import.meta.url));

export class WorkerSpawner {
  listeners: Listener[] = [];
  stopping = false;
  readonly #workers = new Map<number, WorkerRecord>();
  readonly #exits: { rec: WorkerRecord; status: ExitStatus }[] = [];
  #age = 0;
  /** Crash-loop brake: consecutive early deaths, and when the next spawn may happen. */
  #failures = 0;
  respawnAt = 0;

  constructor(readonly opts: SpawnerOptions) {}

  spawn(): WorkerRecord {
    const { cfg, cwd, log } = this.opts;
    const age = ++this.#age;
    const heartbeat = heartbeatPath(cfg.workerTmpDir, process.pid, age);
    createHeartbeat(heartbeat);
    const childFds = runtime.childFds(this.listeners.map((l) => l.fd));
    const state: WorkerState = {
      age,
      ppid: process.pid,
      sockets: this.listeners.map((l, i) => ({ fd: childFds[i], address: l.address, kind: l.kind })),
      cfg,
      cwd,
    };
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    for (const kv of cfg.env) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
    env[WORKER_ENV] = JSON.stringify(state);
    const handle = runtime.spawn({ cmd: scriptCommand(cfg.runtime, WORKER_MAIN), env, cwd, fds: this.listeners.map((l) => l.fd) });
    const rec: WorkerRecord = { pid: handle.pid, age, handle, heartbeat, spawnedAt: Date.now(), retiring: false };
    this.#workers.set(rec.pid, rec);
    handle.exited.then((status) => {
      this.#exits.push({ rec, status });
      this.opts.onExit();
    });
    log.debug(`Spawned worker ${age} (pid: ${rec.pid})`);
    return rec;
  }

  /** Serving workers, oldest first. */
  active(): WorkerRecord[] {
    return [...this.#workers.values()].filter((w) => !w.retiring).sort((a, b) => a.age - b.age);
  }

  get size(): number {
    return this.#workers.size;
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

  /** Graceful stop of one worker; a replacement may start at once. */
  retire(rec: WorkerRecord): void {
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
      this.#brake(rec, status);
    }
    return out;
  }

  /** A worker that died on its own soon after it started delays the next spawn, growing to 10 s. */
  #brake(rec: WorkerRecord, status: ExitStatus): void {
    const ours = status.signal !== null && rec.sent === status.signal;
    if (status.code === 0 || ours || rec.retiring) return;
    if (Date.now() - rec.spawnedAt >= 5000) {
      this.#failures = 0;
      return;
    }
    const delay = Math.min(10_000, 100 * 2 ** this.#failures++);
    this.respawnAt = Date.now() + delay;
    if (delay >= 1000) this.opts.log.warn(`Workers are dying right after they start; next spawn in ${delay / 1000} s`);
  }

  /** SIGABRT to a worker silent for timeoutMs, SIGKILL if it is still there a second later. */
  murder(timeoutMs: number): void {
    const now = Date.now();
    for (const rec of this.#workers.values()) {
      const beat = lastBeat(rec.heartbeat);
      if (!beat || now - beat <= timeoutMs) continue; // not booted yet, or alive
      if (rec.abortedAt === undefined) {
        this.opts.log.fatal(`WORKER TIMEOUT (pid:${rec.pid})`);
        rec.abortedAt = now;
        this.kill(rec, "SIGABRT");
      } else if (now - rec.abortedAt >= 1000) {
        this.kill(rec, "SIGKILL");
      }
    }
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
    this.reap();
  }
}
