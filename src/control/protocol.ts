// The control protocol between `guvnor ctl` and the arbiter (docs/control.md): over a unix
// stream socket, one JSON object per line each way, a reply for every request, in order.
//   → {"v":1,"cmd":"scale","args":{"n":3}}
//   ← {"v":1,"ok":true,"data":{"workers":3,"was":2}}   or   {"v":1,"ok":false,"error":"…"}

export const PROTOCOL_VERSION = 1;
/** A request line longer than this is refused (and the connection closed). */
export const MAX_LINE = 64 * 1024;

export const COMMANDS = ["status", "workers", "stats", "scale", "add", "remove", "reload", "reopen", "upgrade", "stop", "kill"] as const;
export type Command = (typeof COMMANDS)[number];

export interface Request {
  v: number;
  cmd: Command;
  args: Record<string, unknown>;
}

export type Reply = { v: number; ok: true; data: unknown } | { v: number; ok: false; error: string };

/** A request the arbiter refuses: the message goes back to the client as `error`. */
export class ControlError extends Error {
  override name = "ControlError";
}

export type WorkerState = "booting" | "serving" | "recycling" | "retiring";

/** One row of `workers`: the stable `--json` shape (docs/control.md). */
export interface WorkerRow {
  pid: number;
  /** Spawn order: 1 for the first worker, never reused (gunicorn's `age`). */
  age: number;
  generation: number;
  state: WorkerState;
  uptime_s: number;
  /** Requests served; null when the worker does not publish counters. */
  requests: number | null;
  in_flight: number | null;
  rss_bytes: number | null;
  /** CPU use since the previous sample of this worker (100 = one core). */
  cpu_percent: number | null;
  /** Seconds since the worker last showed its event loop alive; null before it serves. */
  heartbeat_age_s: number | null;
  /** How late the worker's heartbeat timer last fired: its event loop's lag. */
  event_loop_lag_s: number | null;
}

export interface ListenerRow {
  address: string;
  /** Connections the kernel has queued that no worker has accepted yet; null where unknown (unix). */
  queue: number | null;
}

export interface StatusData {
  pid: number;
  version: string;
  runtime: string;
  worker_runtime: string;
  uptime_s: number;
  generation: number;
  /** What the arbiter is doing: starting, running, reloading, stopping. */
  phase: "starting" | "running" | "reloading" | "stopping";
  listeners: string[];
  workers: number;
  workers_target: number;
  requests: number | null;
  in_flight: number | null;
  /** A USR2 upgrade in progress: the other arbiter's pid. */
  upgrade_child: number | null;
  upgrade_parent: number | null;
}

/** Requests by status class, as counted by the workers. */
export interface RequestCounts {
  "1xx": number;
  "2xx": number;
  "3xx": number;
  "4xx": number;
  "5xx": number;
}

export interface StatsData {
  requests: number | null;
  by_status: RequestCounts | null;
  /** Requests per second since the previous `stats` (or over the arbiter's life, the first time). */
  rate: number | null;
  in_flight: number | null;
  p50_s: number | null;
  p99_s: number | null;
  restarts: Record<string, number>;
  listeners: ListenerRow[];
  event_loop_lag_s: number;
}

export interface ScaleData {
  workers: number;
  was: number;
}

/** What the arbiter offers the control socket and the metrics endpoint. */
export interface ControlTarget {
  status(): StatusData;
  workers(): WorkerRow[];
  stats(): StatsData;
  scale(n: number): Promise<ScaleData>;
  add(n: number): Promise<ScaleData>;
  remove(n: number): Promise<ScaleData>;
  reload(): void;
  reopen(): void;
  upgrade(): void;
  stop(quick: boolean): void;
  /** Replaces one worker gracefully, its replacement first; throws a ControlError for an unknown pid. */
  killWorker(pid: number): void;
}

const count = (v: unknown, name: string, min: number, fallback?: number): number => {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ControlError(`${name} must be a whole number of ${min} or more (got ${JSON.stringify(v) ?? "nothing"})`);
  }
  return v;
};

/** Parses and validates one request line; throws a ControlError naming what is wrong. */
export function parseRequest(line: string): Request {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw new ControlError(`not a JSON object: ${line.slice(0, 80)}`);
  }
  if (!o || typeof o !== "object" || Array.isArray(o)) throw new ControlError("a request is a JSON object");
  const { v, cmd, args = {} } = o as Record<string, unknown>;
  if (v !== PROTOCOL_VERSION) throw new ControlError(`protocol version ${JSON.stringify(v)} is not supported (this arbiter speaks ${PROTOCOL_VERSION})`);
  if (!COMMANDS.includes(cmd as Command)) throw new ControlError(`unknown command ${JSON.stringify(cmd)} (one of ${COMMANDS.join(", ")})`);
  if (!args || typeof args !== "object" || Array.isArray(args)) throw new ControlError("args must be a JSON object");
  return { v, cmd: cmd as Command, args: args as Record<string, unknown> };
}

/** Runs one request against the target. */
export async function dispatch(target: ControlTarget, req: Request): Promise<unknown> {
  const a = req.args;
  switch (req.cmd) {
    case "status": return target.status();
    case "workers": return target.workers();
    case "stats": return target.stats();
    case "scale": return await target.scale(count(a.n, "scale: N", 1));
    case "add": return await target.add(count(a.n, "add: N", 1, 1));
    case "remove": return await target.remove(count(a.n, "remove: N", 1, 1));
    case "reload": return target.reload();
    case "reopen": return target.reopen();
    case "upgrade": return target.upgrade();
    case "stop": return target.stop(a.quick === true);
    case "kill": return target.killWorker(count(a.pid, "kill: PID", 1));
  }
}

export const encodeLine = (o: unknown): string => JSON.stringify(o) + "\n";

/** Splits a byte stream into lines; calls onLine for each complete one, onOverflow once if a line exceeds MAX_LINE. */
export function lineSplitter(onLine: (line: string) => void, onOverflow: () => void): (chunk: string) => void {
  let buf = "";
  return (chunk) => {
    buf += chunk;
    for (let i = buf.indexOf("\n"); i !== -1; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) onLine(line);
    }
    if (buf.length > MAX_LINE) {
      buf = "";
      onOverflow();
    }
  };
}
