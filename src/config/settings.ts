// Every setting, once. The CLI flags, GUVNOR_* environment variables, config-file keys,
// defaults, validation and docs/settings.md are all derived from this table.
import process from "node:process";
import { bool, int, keyValue, list, matching, oneOf, type Parser, seconds, str, umask } from "./coerce.ts";
import { parseAddress } from "../sockets/address.ts";
import { LOG_LEVELS, type LogLevel } from "../log/logger.ts";
import { runtime } from "../runtime/index.ts";

type Env = Record<string, string | undefined>;

export interface Setting {
  /** Config-file key (camelCase). */
  key: string;
  /** Long flag without dashes (kebab-case); the env var is GUVNOR_<FLAG_IN_CAPS>. */
  flag: string;
  short?: string;
  /** Placeholder in help, e.g. "N", "ADDR". */
  meta?: string;
  section: "Server" | "Workers" | "Logging" | "Process" | "Config";
  parse: Parser;
  /** A value, or a function of the environment (gunicorn's PORT / WEB_CONCURRENCY). */
  default: unknown | ((env: Env) => unknown);
  /** How the default reads in docs when it is computed. */
  defaultDoc?: string;
  /** Set on the command line or in the environment only, never in a config file. */
  cliOnly?: boolean;
  doc: string;
}

const bindItem = (s: string) => void parseAddress(s);

export const SETTINGS: readonly Setting[] = [
  {
    key: "bind", flag: "bind", short: "b", meta: "ADDR", section: "Server",
    parse: list(bindItem),
    default: (env: Env) => [env.PORT ? `0.0.0.0:${env.PORT}` : "127.0.0.1:8000"],
    defaultDoc: "`127.0.0.1:8000`; `0.0.0.0:$PORT` when `PORT` is set",
    doc: "Address to listen on, repeatable: `HOST:PORT`, `[v6]:PORT`, `unix:/path`, `fd://N`.",
  },
  {
    key: "backlog", flag: "backlog", meta: "N", section: "Server", parse: int(1, "a positive integer"), default: 2048,
    doc: "Listen backlog: connections the kernel queues before a worker accepts them.",
  },
  {
    key: "reusePort", flag: "reuse-port", section: "Server", parse: bool(), default: false,
    doc: "Linux: per TCP address, one `SO_REUSEPORT` socket per worker slot, all held by the arbiter; the kernel spreads connections across slots, so a burst of keep-alive connections cannot pile onto one worker. A slot keeps its queue while its worker is replaced; only fewer workers (TTOU) close one. Off: every worker accepts from one shared socket.",
  },
  {
    key: "serving", flag: "serving", meta: "auto|native|compat", section: "Server", parse: oneOf("auto", "native", "compat"), default: "auto",
    doc: "How the `fetch` worker serves: `native` runs `Bun.serve`/`Deno.serve` on the inherited sockets (Linux); `compat` is node:http, slower but portable; `auto` is native where it works, else compat with a warning saying why.",
  },
  {
    key: "keepAlive", flag: "keep-alive", meta: "S", section: "Server", parse: seconds(0, "0 or more seconds"), default: 5,
    doc: "Seconds an idle keep-alive connection is kept open.",
  },
  {
    key: "workers", flag: "workers", short: "w", meta: "N", section: "Workers", parse: int(1, "a positive integer"),
    default: (env: Env) => (env.WEB_CONCURRENCY ? int(1, "a positive integer")(env.WEB_CONCURRENCY, "WEB_CONCURRENCY") : 1),
    defaultDoc: "`$WEB_CONCURRENCY` or 1",
    doc: "Number of worker processes.",
  },
  {
    key: "workerClass", flag: "worker-class", short: "k", meta: "K", section: "Workers",
    parse: matching(/^(fetch|node|.+:[A-Za-z_$][\w$]*)$/, "fetch, node or path/to/worker.ts:ClassName"), default: "fetch",
    doc: "`fetch` (an object with `fetch(request)`, or a function), `node` (a `(req, res)` listener), or `path/to/worker.ts:ClassName`, a subclass of `Worker` (docs/custom-workers.md).",
  },
  {
    key: "timeout", flag: "timeout", short: "t", meta: "S", section: "Workers", parse: seconds(0, "0 or more seconds"), default: 30,
    doc: "A worker silent this long is killed and replaced; 0 disables.",
  },
  {
    key: "gracefulTimeout", flag: "graceful-timeout", meta: "S", section: "Workers", parse: seconds(0, "0 or more seconds"), default: 30,
    doc: "Seconds workers get to finish in-flight requests on TERM/HUP before they are killed.",
  },
  {
    key: "bootTimeout", flag: "boot-timeout", meta: "S", section: "Workers", parse: seconds(0, "0 or more seconds"), default: 60,
    doc: "A worker that has not started serving this long after it was spawned is killed; 0 disables. Separate from timeout, so slow imports are not heartbeat failures.",
  },
  {
    key: "maxRequests", flag: "max-requests", meta: "N", section: "Workers", parse: int(0, "a whole number, 0 or more"), default: 0,
    doc: "Recycle a worker after this many requests; 0 disables.",
  },
  {
    key: "maxRequestsJitter", flag: "max-requests-jitter", meta: "N", section: "Workers", parse: int(0, "a whole number, 0 or more"), default: 0,
    doc: "Add a random 0..N to max-requests per worker, so workers do not recycle together.",
  },
  {
    key: "maxWorkerMemory", flag: "max-worker-memory", meta: "MB", section: "Workers", parse: int(0, "a whole number, 0 or more"), default: 0,
    doc: "Recycle a worker whose resident memory (RSS) exceeds this many MiB, gracefully and with its replacement started first; 0 disables.",
  },
  {
    key: "runtime", flag: "runtime", meta: "bun|deno", section: "Workers", parse: oneOf("bun", "deno"),
    default: () => runtime.name, defaultDoc: "the arbiter's own",
    doc: "Runtime the workers run on.",
  },
  {
    key: "env", flag: "env", short: "e", meta: "KEY=VALUE", section: "Workers", parse: list(keyValue), default: [],
    doc: "Set an environment variable in the workers, repeatable.",
  },
  {
    key: "workerTmpDir", flag: "worker-tmp-dir", meta: "DIR", section: "Workers", parse: str(), default: "",
    defaultDoc: "anonymous memory", doc: "Where each worker's scoreboard (heartbeat, readiness, current request: one page) lives: by default anonymous shared memory with no path; set, an unnamed file (`O_TMPFILE`) in this directory, which must support it (tmpfs, ext4, xfs, btrfs). Preallocated: a full disk is an error at start, never a crash.",
  },
  {
    key: "accessLogfile", flag: "access-logfile", meta: "FILE", section: "Logging", parse: str(), default: "",
    defaultDoc: "off", doc: "Access log file; `-` is stdout.",
  },
  {
    key: "accessLogformat", flag: "access-logformat", meta: "FMT", section: "Logging", parse: str(),
    default: '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
    doc: "Access log line with gunicorn's atoms (see below).",
  },
  {
    key: "errorLogfile", flag: "error-logfile", meta: "FILE", section: "Logging", parse: str(), default: "-",
    defaultDoc: "`-` (stderr)", doc: "Error log file; `-` is stderr.",
  },
  {
    key: "logLevel", flag: "log-level", meta: "LEVEL", section: "Logging",
    parse: oneOf(...(Object.keys(LOG_LEVELS) as LogLevel[])), default: "info",
    doc: "`debug`, `info`, `warning`, `error` or `critical`.",
  },
  {
    key: "pid", flag: "pid", short: "p", meta: "FILE", section: "Process", parse: str(), default: "",
    defaultDoc: "none", doc: "Write the arbiter's pid to this file; removed on exit.",
  },
  {
    key: "name", flag: "name", short: "n", meta: "NAME", section: "Process", parse: str(), default: "",
    defaultDoc: "none", doc: "Names the processes: `guvnor: master [NAME]`, `guvnor: worker [NAME]` (Linux shows the first 15 bytes as the process name).",
  },
  {
    key: "chdir", flag: "chdir", meta: "DIR", section: "Process", parse: str(), default: "",
    defaultDoc: "none", doc: "Change to this directory before loading the app.",
  },
  {
    key: "user", flag: "user", short: "u", meta: "USER", section: "Process", parse: str(), default: "",
    defaultDoc: "unchanged", doc: "Run the workers as this user (name or uid); the arbiter keeps its own to bind and supervise.",
  },
  {
    key: "group", flag: "group", short: "g", meta: "GROUP", section: "Process", parse: str(), default: "",
    defaultDoc: "the user's group", doc: "Run the workers with this group (name or gid).",
  },
  {
    key: "umask", flag: "umask", meta: "MODE", section: "Process", parse: umask(), default: 0,
    defaultDoc: "`0`", doc: "umask applied when binding unix sockets, as octal (`007`).",
  },
  {
    key: "reload", flag: "reload", section: "Config", parse: bool(), default: false,
    doc: "Development: reload the workers (as HUP does) when a source file under the app's directory or the config file changes.",
  },
  {
    key: "app", flag: "app", meta: "APP", section: "Config", parse: str(), default: "",
    defaultDoc: "none", doc: "The app, `path/to/module.ts[:name]`; on the command line it is the positional argument.",
  },
  {
    key: "config", flag: "config", short: "c", meta: "FILE", section: "Config", parse: str(), default: "", cliOnly: true,
    defaultDoc: "`guvnor.config.*`, `.guvnorrc` or `package.json#guvnor` in the current directory",
    doc: "Config file (loaded with c12: `.ts`, `.js`, `.mjs`, `.json`, …).",
  },
  {
    key: "checkConfig", flag: "check-config", section: "Config", parse: bool(), default: false, cliOnly: true,
    doc: "Load the config and import the app, then exit 0 (valid) or 1.",
  },
  {
    key: "printConfig", flag: "print-config", section: "Config", parse: bool(), default: false, cliOnly: true,
    doc: "Print the effective settings and exit.",
  },
];

export const SETTINGS_BY_KEY: ReadonlyMap<string, Setting> = new Map(SETTINGS.map((s) => [s.key, s]));

export const envName = (s: Setting): string => `GUVNOR_${s.flag.toUpperCase().replaceAll("-", "_")}`;

export function defaultOf(s: Setting, env: Env = process.env): unknown {
  return typeof s.default === "function" ? (s.default as (e: Env) => unknown)(env) : s.default;
}
