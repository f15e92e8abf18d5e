// What the arbiter hands each worker process, serialized in one environment variable.
import process from "node:process";
import type { SocketInfo } from "../sockets/listeners.ts";
import type { Config } from "../types.ts";
import type { TlsMaterial } from "../config/tls.ts";

export const WORKER_ENV = "GUVNOR_WORKER";

export interface WorkerState {
  age: number;
  ppid: number;
  sockets: SocketInfo[];
  cfg: Config;
  /** Directory the app and worker class paths are relative to. */
  cwd: string;
  /** Worker-side hooks the config file defines; the worker loads the file again only then. */
  hooks: string[];
  /** --user/--group resolved: the worker switches to them before it loads the app. */
  ids: { uid: number; gid: number } | null;
  /** --certfile/--keyfile/--ca-certs as read by the arbiter: the worker never opens the files. */
  tls?: TlsMaterial;
  /** The balance table all workers of the shared sockets write (worker/balance.ts), a descriptor in the worker. */
  balanceFd?: number;
}

/** The state this process was started with, or null when it is not a worker. */
export function workerStateFromEnv(): WorkerState | null {
  const raw = process.env[WORKER_ENV];
  if (!raw) return null;
  // Not for our own children (an app that spawns this same program must not make a worker).
  delete process.env[WORKER_ENV];
  return JSON.parse(raw) as WorkerState;
}
