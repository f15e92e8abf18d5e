// GET /metrics in the Prometheus text exposition format (version 0.0.4). Written by hand: the
// format is a dozen lines of rules, and the arbiter renders a snapshot it already has, so a
// client library's registry and collectors would add weight and nothing else.
import { LATENCY_BOUNDS, STATUS_CLASSES, type WorkerCounters } from "./counters.ts";
import type { WorkerState } from "./protocol.ts";

export const RESTART_CAUSES = ["crash", "signal", "timeout", "max_requests", "max_worker_memory", "reload", "requested", "ctl"] as const;
export type RestartCause = (typeof RESTART_CAUSES)[number];
export const WORKER_STATES: readonly WorkerState[] = ["booting", "serving", "recycling", "retiring"];

export interface MetricsSnapshot {
  /** Every request the workers counted, those of workers that have exited included; null when they publish nothing. */
  counters: WorkerCounters | null;
  workers: { pid: number; state: WorkerState; rssBytes: number | null; lagSeconds: number | null }[];
  restarts: Record<RestartCause, number>;
  eventLoopLagSeconds: number;
  listeners: { address: string; queue: number | null }[];
  build: { version: string; runtime: string; runtimeVersion: string; workerRuntime: string };
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A label value, escaped as the format requires. */
const label = (v: string) => v.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
const num = (n: number) => (Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN");

export function renderMetrics(s: MetricsSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const sample = (name: string, labels: Record<string, string>, v: number) => {
    const l = Object.entries(labels).map(([k, x]) => `${k}="${label(x)}"`).join(",");
    out.push(`${name}${l ? `{${l}}` : ""} ${num(v)}`);
  };

  family("guvnor_build_info", "gauge", "guvnor's version and the runtimes of the arbiter and the workers.");
  sample("guvnor_build_info", { version: s.build.version, runtime: s.build.runtime, runtime_version: s.build.runtimeVersion, worker_runtime: s.build.workerRuntime }, 1);

  const c = s.counters;
  if (c) {
    family("guvnor_requests_total", "counter", "Requests the workers finished, by status class.");
    STATUS_CLASSES.forEach((cls, i) => sample("guvnor_requests_total", { status: cls }, c.byClass[i]));
    family("guvnor_request_duration_seconds", "histogram", "Time from a request's arrival to its response.");
    let cum = 0;
    LATENCY_BOUNDS.forEach((le, i) => sample("guvnor_request_duration_seconds_bucket", { le: String(le) }, (cum += c.buckets[i])));
    cum += c.buckets[LATENCY_BOUNDS.length];
    sample("guvnor_request_duration_seconds_bucket", { le: "+Inf" }, cum);
    sample("guvnor_request_duration_seconds_sum", {}, c.sumSeconds);
    sample("guvnor_request_duration_seconds_count", {}, cum);
    family("guvnor_requests_in_flight", "gauge", "Requests being served now.");
    sample("guvnor_requests_in_flight", {}, c.inFlight);
  }

  family("guvnor_workers", "gauge", "Worker processes, by state.");
  for (const st of WORKER_STATES) sample("guvnor_workers", { state: st }, s.workers.filter((w) => w.state === st).length);

  family("guvnor_worker_restarts_total", "counter", "Workers replaced, by cause.");
  for (const cause of RESTART_CAUSES) sample("guvnor_worker_restarts_total", { cause }, s.restarts[cause]);

  family("guvnor_worker_rss_bytes", "gauge", "Resident memory of each worker.");
  for (const w of s.workers) if (w.rssBytes !== null) sample("guvnor_worker_rss_bytes", { pid: String(w.pid) }, w.rssBytes);

  family("guvnor_event_loop_lag_seconds", "gauge", "How late a process's last timer fired: how long its event loop was busy.");
  sample("guvnor_event_loop_lag_seconds", { process: "arbiter" }, s.eventLoopLagSeconds);
  for (const w of s.workers) if (w.lagSeconds !== null) sample("guvnor_event_loop_lag_seconds", { process: "worker", pid: String(w.pid) }, w.lagSeconds);

  family("guvnor_listen_queue_length", "gauge", "Connections the kernel has queued on a listener that no worker has accepted yet (TCP).");
  for (const l of s.listeners) if (l.queue !== null) sample("guvnor_listen_queue_length", { listener: l.address }, l.queue);

  return out.join("\n") + "\n";
}
