// What `guvnor ctl` and /metrics see of the arbiter: it answers from a read-only view of the
// arbiter and acts through a few verbs, so the arbiter itself only constructs, feeds and closes it.
import process from "node:process";
import type { Logger } from "../log/logger.ts";
import { runtime } from "../runtime/index.ts";
import type { ExitStatus } from "../runtime/types.ts";
import type { Config } from "../types.ts";
import { VERSION } from "../version.ts";
import { addCounters, emptyCounters, quantile, total, type WorkerCounters } from "./counters.ts";
import type { MetricsServer } from "./http.ts";
import { renderMetrics } from "./metrics.ts";
import { RestartCounts } from "./restarts.ts";
import { CpuSampler, listenerQueues, rssBytes } from "./procfs.ts";
import { type ControlTarget, ControlError, type ScaleData, type StatsData, type StatusData, type WorkerRow, type WorkerState } from "./protocol.ts";
import { ControlServer } from "./server.ts";
import { CONTROL_FD_ENV, METRICS_FD_ENV } from "../handoff.ts";
import type { ArbiterVerbs, ArbiterView, ObservedWorker } from "./view.ts";

export type { ArbiterVerbs, ArbiterView, ObservedWorker } from "./view.ts";

export interface ObserverOptions {
  view: () => ArbiterView;
  verbs: ArbiterVerbs;
  log: Logger;
}

/** The arbiter's loop is called dead when it has not come round for this long (hooks may be slow). */
const LIVE_MS = 30_000;

export class Observer implements ControlTarget {
  readonly startedAt = Date.now();
  #control?: ControlServer;
  #metrics?: MetricsServer;
  #lagTimer?: ReturnType<typeof setInterval>;
  #lag = 0;
  #lastTick = Date.now();
  /** Counters of workers that have exited, so totals never go down. */
  readonly #gone = emptyCounters();
  readonly #restarts = new RestartCounts();
  readonly #cpu = new CpuSampler();
  #lastStats?: { n: number; at: number };

  constructor(readonly opts: ObserverOptions) {}

  /**
   * Opens the control socket (a warning if it cannot) and the metrics listener (an AddressError
   * if it cannot). An upgraded arbiter not yet promoted holds both without answering.
   */
  async open(cfg: Config, promoted: boolean): Promise<void> {
    const log = this.opts.log;
    this.#control = ControlServer.open(cfg.controlSocket, this, log, promoted);
    if (cfg.metricsBind || process.env[METRICS_FD_ENV]) {
      // node:http and the metrics server only when asked for.
      const { MetricsServer } = await import("./http.ts");
      this.#metrics = await MetricsServer.open(cfg.metricsBind, {
        metrics: () => this.metricsText(),
        live: () => this.live,
        ready: () => this.ready,
      }, log, { umask: cfg.umask });
      if (promoted) await this.#metrics.serve(log);
    }
    let last = performance.now();
    this.#lagTimer = setInterval(() => {
      const now = performance.now();
      this.#lag = Math.max(0, (now - last - 500) / 1000);
      last = now;
    }, 500);
  }

  /** The loop came round. */
  tick(): void {
    this.#lastTick = Date.now();
  }

  /** An upgraded arbiter whose parent has gone: answer on the sockets it handed over. */
  async promoted(): Promise<void> {
    this.#control?.accept();
    await this.#metrics?.serve(this.opts.log);
  }

  /** What USR2 hands the new arbiter besides the listeners: fds, and the variables naming them. */
  handover(): { fds: number[]; env: (childFds: number[]) => Record<string, string> } {
    const fds: number[] = [], names: string[] = [];
    if (this.#control) fds.push(this.#control.fd), names.push(CONTROL_FD_ENV);
    if (this.#metrics) fds.push(this.#metrics.fd), names.push(METRICS_FD_ENV);
    return {
      fds,
      env: (childFds) => Object.fromEntries(names.map((n, i) => [n, String(childFds[i])])),
    };
  }

  /** Stops answering; `unlink`: remove the socket files (no other arbiter shares them). */
  close(unlink: boolean): void {
    clearInterval(this.#lagTimer);
    this.#control?.close(unlink);
    this.#metrics?.close(unlink);
    this.#control = this.#metrics = undefined;
  }

  /** A worker is being replaced; `why` as the arbiter logs it. */
  recycling(pid: number, why: string): void {
    this.#restarts.recycling(pid, why);
  }

  /** A worker has exited: keep its counters (read just before it left the table) and count the restart. */
  exited(w: ObservedWorker, status: ExitStatus, last: WorkerCounters | undefined): void {
    if (last) addCounters(this.#gone, { ...last, inFlight: 0 });
    this.#restarts.exited(w, status, this.opts.view());
  }

  get live(): boolean {
    return this.opts.view().stopping || Date.now() - this.#lastTick < LIVE_MS;
  }

  /** A worker serves and the arbiter is not stopping (during a HUP the old generation serves until replaced). */
  get ready(): boolean {
    const v = this.opts.view();
    return !v.stopping && v.workers.some((w) => w.serving && !w.retiring);
  }

  // ---- ControlTarget ----

  status(): StatusData {
    const v = this.opts.view(), c = this.#totals();
    return {
      pid: process.pid,
      version: VERSION,
      runtime: `${runtime.name} ${runtime.version}`,
      worker_runtime: v.cfg.runtime,
      uptime_s: Math.round((Date.now() - this.startedAt) / 100) / 10,
      generation: v.generation,
      phase: v.stopping ? "stopping" : !this.ready ? "starting" : v.reloading ? "reloading" : "running",
      listeners: v.listeners.map((l) => l.address),
      workers: v.workers.length,
      workers_target: v.numWorkers,
      requests: c ? total(c) : null,
      in_flight: c ? c.inFlight : null,
      upgrade_child: v.upgradeChild ?? null,
      upgrade_parent: v.upgradeParent ?? null,
    };
  }

  workers(): WorkerRow[] {
    const now = Date.now(), v = this.opts.view();
    this.#cpu.keep(new Set(v.workers.map((w) => w.pid)));
    return v.workers.map((w) => {
      const c = w.counters, uptime = (now - w.spawnedAt) / 1000;
      return {
        pid: w.pid,
        age: w.age,
        generation: w.generation,
        state: stateOf(w),
        uptime_s: Math.round(uptime * 10) / 10,
        requests: c ? total(c) : null,
        in_flight: c ? c.inFlight : null,
        rss_bytes: rssBytes(w.pid),
        cpu_percent: this.#cpu.percent(w.pid, uptime),
        heartbeat_age_s: w.beatAt ? Math.round((now - w.beatAt) / 100) / 10 : null,
        event_loop_lag_s: w.lagSeconds ?? null,
      };
    });
  }

  stats(): StatsData {
    const c = this.#totals(), v = this.opts.view(), now = Date.now();
    const n = c ? total(c) : null;
    const since = this.#lastStats ?? { n: 0, at: this.startedAt };
    if (n !== null) this.#lastStats = { n, at: now };
    return {
      requests: n,
      by_status: c ? { "1xx": c.byClass[0], "2xx": c.byClass[1], "3xx": c.byClass[2], "4xx": c.byClass[3], "5xx": c.byClass[4] } : null,
      rate: n === null || now === since.at ? null : Math.round(((n - since.n) / ((now - since.at) / 1000)) * 10) / 10,
      in_flight: c ? c.inFlight : null,
      p50_s: c ? quantile(c, 0.5) : null,
      p99_s: c ? quantile(c, 0.99) : null,
      restarts: { ...this.#restarts.counts },
      listeners: this.#queues(v),
      event_loop_lag_s: Math.round(this.#lag * 1e6) / 1e6,
    };
  }

  async scale(n: number): Promise<ScaleData> {
    const v = this.opts.view(), was = v.numWorkers;
    if (n > v.cfg.maxWorkers) throw new ControlError(`scale: ${n} is above --max-workers ${v.cfg.maxWorkers}`);
    await this.opts.verbs.setWorkers(n);
    this.opts.log.info(`Control: workers ${was} -> ${n}`);
    return { workers: n, was };
  }

  add(n: number): Promise<ScaleData> {
    return this.scale(this.opts.view().numWorkers + n);
  }

  remove(n: number): Promise<ScaleData> {
    const was = this.opts.view().numWorkers;
    if (was - n < 1) throw new ControlError(`remove: cannot go below one worker (${was} now, asked to remove ${n})`);
    return this.scale(was - n);
  }

  reload(): void {
    this.opts.verbs.signal("SIGHUP");
  }

  reopen(): void {
    this.opts.verbs.signal("SIGUSR1");
  }

  upgrade(): void {
    const v = this.opts.view();
    if (v.upgradeChild) throw new ControlError(`an upgrade is already running (new arbiter pid ${v.upgradeChild})`);
    if (v.upgradeParent) throw new ControlError(`this arbiter is itself an upgrade; stop the old one (pid ${v.upgradeParent}) first`);
    this.opts.verbs.signal("SIGUSR2");
  }

  stop(quick: boolean): void {
    this.opts.verbs.signal(quick ? "SIGINT" : "SIGTERM");
  }

  killWorker(pid: number): void {
    const w = this.opts.view().workers.find((x) => x.pid === pid);
    if (!w) throw new ControlError(`kill: no worker with pid ${pid} (guvnor ctl workers lists them)`);
    if (w.retiring || w.recycling) return;
    if (!this.opts.verbs.recycle(pid, "guvnor ctl kill")) throw new ControlError(`kill: no worker with pid ${pid}`);
    this.#restarts.killed(pid);
  }

  metricsText(): string {
    const v = this.opts.view();
    return renderMetrics({
      counters: this.#totals(),
      workers: v.workers.map((w) => ({ pid: w.pid, state: stateOf(w), rssBytes: rssBytes(w.pid), lagSeconds: w.lagSeconds ?? null })),
      restarts: this.#restarts.counts,
      eventLoopLagSeconds: Math.round(this.#lag * 1e6) / 1e6,
      listeners: this.#queues(v),
      build: { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version, workerRuntime: v.cfg.runtime },
    });
  }

  #queues(v: ArbiterView): { address: string; queue: number | null }[] {
    const queues = listenerQueues(v.listeners.map((l) => l.fd), v.slotFds);
    return v.listeners.map((l, i) => ({ address: l.address, queue: queues[i] }));
  }

  /** Every request counted so far, or null while no worker publishes counters. */
  #totals(): WorkerCounters | null {
    const live = this.opts.view().workers.map((w) => w.counters).filter((c) => c !== undefined);
    if (!live.length && total(this.#gone) === 0) return null;
    return live.reduce((acc, c) => addCounters(acc, c), addCounters(emptyCounters(), this.#gone));
  }
}

function stateOf(w: ObservedWorker): WorkerState {
  return w.retiring ? "retiring" : w.recycling ? "recycling" : w.serving ? "serving" : "booting";
}
