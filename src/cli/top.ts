// `guvnor ctl top`: status, stats and the workers table, redrawn every second until q, Ctrl-C,
// or the arbiter goes away. On a terminal stdin is in raw mode so a single key quits.
import process from "node:process";
import type { ControlClient } from "../control/client.ts";
import type { StatsData, StatusData, WorkerRow } from "../control/protocol.ts";
import type { Sink } from "../log/sink.ts";
import { duration, formatWorkers } from "./ctl-format.ts";

const CLEAR = "\x1b[H\x1b[2J", HIDE = "\x1b[?25l", SHOW = "\x1b[?25h";

export async function runTop(client: ControlClient, out: Sink, everyMs = 1000): Promise<number> {
  const tty = process.stdin.isTTY === true && typeof process.stdin.setRawMode === "function";
  const quit = Promise.withResolvers<number>();
  const onKey = (d: Buffer | string) => {
    const s = String(d);
    if (s.includes("q") || s.includes("Q") || s.includes("\x03")) quit.resolve(0);
  };
  const onSigint = () => quit.resolve(0);
  if (tty) process.stdin.setRawMode(true);
  process.stdin.on("data", onKey);
  process.stdin.resume();
  process.on("SIGINT", onSigint);
  if (process.stdout.isTTY) out.write(HIDE);
  try {
    for (;;) {
      const frame = await draw(client).catch((e: Error) => e);
      if (frame instanceof Error) {
        out.write(`${frame.message}\n`);
        return 2;
      }
      out.write((process.stdout.isTTY ? CLEAR : "") + frame + "\n");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), everyMs)));
      const code = await Promise.race([quit.promise, next]);
      clearTimeout(timer);
      if (code !== undefined) return code;
    }
  } finally {
    if (process.stdout.isTTY) out.write(SHOW);
    if (tty) process.stdin.setRawMode(false);
    process.stdin.off("data", onKey);
    process.stdin.pause();
    process.off("SIGINT", onSigint);
  }
}

async function draw(client: ControlClient): Promise<string> {
  const [status, stats, workers] = await Promise.all([client.request("status"), client.request("stats"), client.request("workers")]);
  for (const r of [status, stats, workers]) if (!r.ok) throw new Error(r.error);
  const s = (status as { data: StatusData }).data, t = (stats as { data: StatsData }).data;
  const w = (workers as { data: WorkerRow[] }).data;
  const ms = (v: number | null) => (v === null ? "-" : `${(v * 1000).toFixed(1)}ms`);
  const queued = t.listeners.map((l) => `${l.address} ${l.queue ?? "-"}`).join(", ");
  return [
    `guvnor ${s.version}  pid ${s.pid}  ${s.runtime}  up ${duration(s.uptime_s)}  ${s.phase}  generation ${s.generation}  (q to quit)`,
    `workers ${s.workers}/${s.workers_target}  requests ${t.requests ?? "-"}  rate ${t.rate ?? "-"}/s  in flight ${t.in_flight ?? "-"}  p50 ${ms(t.p50_s)}  p99 ${ms(t.p99_s)}`,
    `queued ${queued || "-"}  restarts ${Object.entries(t.restarts).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
    "",
    formatWorkers(w),
  ].join("\n");
}
