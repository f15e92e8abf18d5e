// Public types: what users of the library and of custom workers see.

/** gunicorn's log level names (log/logger.ts maps them to consola's). */
export type LogLevel = "critical" | "error" | "warning" | "info" | "debug";

/** The effective settings (docs/settings.md describes each). */
export interface Config {
  bind: string[];
  backlog: number;
  reusePort: boolean;
  /** `--metrics-bind`: the arbiter's /metrics, /healthz and /readyz address; "" is off. */
  metricsBind: string;
  /** `auto` (native where it works, else compat), `native` or `compat`: how the fetch worker serves. */
  serving: "auto" | "native" | "compat";
  keepAlive: number;
  workers: number;
  /** The most workers: `workers` may not exceed it, and TTIN stops there. */
  maxWorkers: number;
  workerClass: string;
  timeout: number;
  bootTimeout: number;
  gracefulTimeout: number;
  maxRequests: number;
  maxRequestsJitter: number;
  maxWorkerMemory: number;
  runtime: "bun" | "deno";
  env: string[];
  workerTmpDir: string;
  accessLogfile: string;
  accessLogformat: string;
  errorLogfile: string;
  logLevel: LogLevel;
  logFormat: "text" | "json";
  /** The `guvnor ctl` socket's path; "" is off. */
  controlSocket: string;
  pid: string;
  name: string;
  chdir: string;
  user: string;
  group: string;
  umask: number;
  reload: boolean;
  app: string;
  config: string;
  checkConfig: boolean;
  printConfig: boolean;
  certfile: string;
  keyfile: string;
  caCerts: string;
  certReqs: "none" | "optional" | "required";
  ciphers: string;
  tlsMinVersion: "1.2" | "1.3";
  /** Addresses, networks (`10.0.0.0/8`) or `*`. */
  forwardedAllowIps: string[];
  /** Lower-case header name → the value that means https. */
  secureSchemeHeaders: Record<string, string>;
  /** Bytes; 0 is no limit. */
  maxRequestBody: number;
  /** 0: the runtime's own limit. */
  limitRequestLine: number;
  limitRequestFields: number;
  limitRequestFieldSize: number;
  /** Seconds; 0 is off. */
  requestTimeout: number;
}

/** The settings a worker sees: the command-line-only ones stay with the arbiter. */
export type WorkerConfig = Omit<Config, "config" | "checkConfig" | "printConfig">;

/** What a config file may export: any subset of the settings. */
export type UserConfig = Partial<Omit<Config, "config" | "checkConfig" | "printConfig">>;

/** Client address handed to the app as `info.remoteAddr` (Deno's shape). */
export interface RemoteAddr {
  hostname: string;
  port: number;
  transport: "tcp" | "unix";
}

/** Second argument of an app's `fetch(request, info)`. */
export interface ServeInfo {
  remoteAddr: RemoteAddr;
  /** Bun's shape: `server.requestIP(request)`. */
  requestIP(request: Request): { address: string; port: number; family: string } | null;
  /**
   * Bun's `server.upgrade(request, { data, headers })`, on the native serving path on Bun, for
   * apps that export `{ fetch, websocket }`; return nothing from fetch when it returns true.
   */
  upgrade?(request: Request, options?: { data?: unknown; headers?: HeadersInit }): boolean;
}

export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/** An app for the `fetch` worker: `export default { fetch }`, or a function. */
export type FetchApp = { fetch: FetchHandler } | FetchHandler;

/** A listener as workers see it: `fd` is the number in the worker process. */
export interface SocketInfo {
  fd: number;
  address: string;
  kind: "tcp" | "unix";
}
