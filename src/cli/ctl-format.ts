// Human output of `guvnor ctl`: aligned tables and key/value blocks. Pure functions of the data.
import type { StatsData, StatusData, WorkerRow } from "../control/protocol.ts";

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const width = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const right = head.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || /^[\d.]+[%sMKGB]*$|^-$/.test(String(r[i]))));
  return cells.map((r) => r.map((c, i) => (right[i] ? c.padStart(width[i]) : c.padEnd(width[i]))).join("  ").trimEnd()).join("\n");
}

function keyValues(pairs: [string, string | number][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ":").padEnd(w + 1)}  ${v}`).join("\n");
}

const dash = (v: number | null | undefined, f: (n: number) => string = String) => (v === null || v === undefined ? "-" : f(v));

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}M`;
  return `${(n / 1024 ** 3).toFixed(2)}G`;
}

export function duration(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
}

const ms = (s: number) => `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)}ms`;

export function formatStatus(s: StatusData): string {
  return keyValues([
    ["pid", s.pid],
    ["version", s.version],
    ["runtime", `${s.runtime} (workers on ${s.worker_runtime})`],
    ["uptime", duration(s.uptime_s)],
    ["phase", s.phase],
    ["generation", s.generation],
    ["workers", `${s.workers} (target ${s.workers_target})`],
    ["listeners", s.listeners.join(", ") || "-"],
    ["requests", dash(s.requests)],
    ["in flight", dash(s.in_flight)],
    ...(s.upgrade_child ? [["upgrade", `new arbiter pid ${s.upgrade_child}`] as [string, string]] : []),
    ...(s.upgrade_parent ? [["upgrade", `started by pid ${s.upgrade_parent}, not yet promoted`] as [string, string]] : []),
  ]);
}

export function formatWorkers(rows: WorkerRow[]): string {
  return table(
    ["PID", "AGE", "GEN", "STATE", "UPTIME", "REQUESTS", "IN FLIGHT", "RSS", "CPU%", "BEAT", "LAG"],
    rows.map((w) => [
      w.pid, w.age, w.generation, w.state, duration(w.uptime_s), dash(w.requests), dash(w.in_flight),
      dash(w.rss_bytes, bytes), dash(w.cpu_percent, (n) => n.toFixed(1)), dash(w.heartbeat_age_s, (n) => `${n.toFixed(1)}s`),
      dash(w.event_loop_lag_s, ms),
    ]),
  );
}

export function formatStats(s: StatsData): string {
  const restarts = Object.entries(s.restarts).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const kv = keyValues([
    ["requests", dash(s.requests)],
    ["by status", s.by_status ? Object.entries(s.by_status).map(([k, n]) => `${k} ${n}`).join(", ") : "-"],
    ["rate", dash(s.rate, (n) => `${n}/s`)],
    ["in flight", dash(s.in_flight)],
    ["latency p50", dash(s.p50_s, ms)],
    ["latency p99", dash(s.p99_s, ms)],
    ["restarts", restarts],
    ["arbiter lag", ms(s.event_loop_lag_s)],
  ]);
  const queues = table(["LISTENER", "QUEUED"], s.listeners.map((l) => [l.address, dash(l.queue)]));
  return `${kv}\n\n${queues}`;
}
