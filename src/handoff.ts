// Everything that crosses from one guvnor process to the next: the environment variable names,
// and the state an arbiter hands each worker. The worker parses and checks it on arrival.
import process from "node:process";
import type { Config, SocketInfo, WorkerConfig } from "./types.ts";

/** A worker's state (JSON): its presence is what makes a guvnor process a worker. */
export const WORKER_ENV = "GUVNOR_WORKER";
/** USR2: the listening fds the old arbiter hands the new one ("3,4"). */
export const FD_ENV = "GUVNOR_FD";
/** USR2: the old arbiter's pid, so the new one knows whom it replaces (not GUVNOR_PID: that is --pid's). */
export const PID_ENV = "GUVNOR_UPGRADE_FROM";
/** USR2 with --reuse-port: which of the new arbiter's fds are which slot ("7,-;8,-"). */
export const SLOTS_ENV = "GUVNOR_SLOTS";
/** USR2: the control socket's listening fd, handed to the new arbiter so `guvnor ctl` keeps working. */
export const CONTROL_FD_ENV = "GUVNOR_CONTROL_FD";
/** USR2: the --metrics-bind listener's fd, likewise. */
export const METRICS_FD_ENV = "GUVNOR_METRICS_FD";
/** Set by guvnor for its own processes: never settings, never warned about. */
export const INTERNAL_ENV: ReadonlySet<string> = new Set([WORKER_ENV, FD_ENV, PID_ENV, SLOTS_ENV, CONTROL_FD_ENV, METRICS_FD_ENV]);

export interface WorkerState {
  /** Format version: a worker refuses state from a different guvnor. */
  v: 1;
  /** Spawn order: 1 for the first worker, never reused. */
  age: number;
  /** The arbiter's pid; a different parent means the arbiter is gone. */
  ppid: number;
  /** The listeners, at their numbers in the worker. */
  sockets: SocketInfo[];
  /** This worker's scoreboard (worker/scoreboard.ts), a descriptor in the worker. */
  scoreboardFd: number;
  cfg: WorkerConfig;
  /** Directory the app and worker class paths are relative to. */
  cwd: string;
  /** Worker-side hooks: the config file to load them from, and which it defines. */
  hooks: { file: string; names: string[] } | null;
  /** --user/--group: the ids the worker was started with; it refuses to run as anything else. */
  ids: { uid: number; gid: number } | null;
  /** The table the workers of the shared sockets balance their connections through (worker/balance.ts), a descriptor. */
  balanceFd?: number;
  /** The arbiter's wake-up channel (arbiter/wake.ts): a byte written here makes it look at once. */
  wakeFd?: number;
  /**
   * --certfile/--keyfile/--ca-certs as the arbiter read them (the worker never opens the files):
   * a memfd holding the material as JSON, and its length. Not in this variable: a process's
   * environment stays readable in /proc/PID/environ by its user for its whole life; the worker
   * reads the memfd and closes it before the app loads.
   */
  tls?: { fd: number; bytes: number };
}

/** Why a worker cannot use what it was handed. */
export class HandoffError extends Error {
  readonly code = "E_HANDOFF";
}

export function encodeWorkerState(state: WorkerState): string {
  return JSON.stringify(state);
}

/** The state this process was started with, checked, or null when it is not a worker. */
export function takeWorkerState(env: Record<string, string | undefined> = process.env): WorkerState | null {
  const raw = env[WORKER_ENV];
  if (raw === undefined) return null;
  // Not for our own children: an app that starts this same program must not make a worker.
  delete env[WORKER_ENV];
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(raw);
  } catch {
    throw new HandoffError(`${WORKER_ENV} is not JSON: this process was not started by a guvnor arbiter`);
  }
  const bad = (what: string) => new HandoffError(`${WORKER_ENV}: ${what} (started by a different guvnor version?)`);
  if (!s || typeof s !== "object" || s.v !== 1) throw bad("unknown format");
  for (const k of ["age", "ppid", "scoreboardFd"]) if (!isCount(s[k])) throw bad(`${k} is not a whole number`);
  if (typeof s.cwd !== "string") throw bad("cwd is not a string");
  if (!s.cfg || typeof s.cfg !== "object" || typeof (s.cfg as Config).workerClass !== "string") throw bad("cfg is not a config");
  if (!Array.isArray(s.sockets) || !s.sockets.every(isSocketInfo)) throw bad("sockets are not listeners");
  if (s.hooks !== null && !(isObject(s.hooks) && typeof s.hooks.file === "string" && isStrings(s.hooks.names))) throw bad("hooks are not hooks");
  if (s.ids !== null && !(isObject(s.ids) && isCount(s.ids.uid) && isCount(s.ids.gid))) throw bad("ids are not ids");
  if (s.balanceFd !== undefined && !isCount(s.balanceFd)) throw bad("balanceFd is not a whole number");
  if (s.wakeFd !== undefined && !isCount(s.wakeFd)) throw bad("wakeFd is not a whole number");
  if (s.tls !== undefined && !(isObject(s.tls) && isCount(s.tls.fd) && isCount(s.tls.bytes))) throw bad("tls is not a descriptor and a length");
  return s as unknown as WorkerState;
}

/** The variables a worker needs from `base` for `state`: everything else the arbiter has stays home. */
export function workerEnv(base: Record<string, string | undefined>, extra: string[], state: WorkerState): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !INTERNAL_ENV.has(k)) env[k] = v;
  for (const kv of extra) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  env[WORKER_ENV] = encodeWorkerState(state);
  return env;
}

const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object";
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === "string");
const isSocketInfo = (v: unknown): boolean =>
  isObject(v) && isCount(v.fd) && typeof v.address === "string" && (v.kind === "tcp" || v.kind === "unix");
