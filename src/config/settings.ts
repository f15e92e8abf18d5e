// Every setting, once. The CLI flags, GUVNOR_* environment variables, config-file keys,
// defaults, validation and docs/settings.md are all derived from this table.
import os from "node:os";
import process from "node:process";
import { BEFORE_KEY, bool, int, keyValue, list, matching, oneOf, optional, type Parser, seconds, str, umask } from "./coerce.ts";
import { certReqs, headerValues, ipOrNetwork } from "./coerce-tls.ts";
import { parseAddress } from "../sockets/address.ts";
import { ConfigError } from "../errors.ts";
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
  section: "Server" | "Workers" | "Logging" | "Process" | "Config" | "TLS" | "Proxy";
  parse: Parser;
  /** A value, or a function of the environment (gunicorn's PORT / WEB_CONCURRENCY). */
  default: unknown | ((env: Env) => unknown);
  /** How the default reads in docs when it is computed. */
  defaultDoc?: string;
  /** Set on the command line or in the environment only, never in a config file. */
  cliOnly?: boolean;
  /** Key of the setting whose value is this one's maximum (workers ≤ maxWorkers). */
  atMost?: string;
  doc: string;
}

const bindItem = (s: string) => void parseAddress(s);
const namedBindItem = (s: string, source: string) => {
  try {
    parseAddress(s);
  } catch (err) {
    throw new ConfigError(`${source}: ${(err as Error).message}`, { cause: err });
  }
};

export const SETTINGS: readonly Setting[] = [
  {
    key: "bind", flag: "bind", short: "b", meta: "ADDR", section: "Server",
    parse: list(bindItem, /,/, true), // the same address twice would only fail to bind, after retries
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
    doc: "Linux: per TCP address, one `SO_REUSEPORT` socket per worker slot, all held by the arbiter; the kernel spreads connections across slots by hash. A slot keeps its queue while its worker is replaced, but also while its worker is stuck; fewer workers (TTOU) close one. Off (the default): every worker accepts from one shared socket, and a worker holding more than its share of the active connections stops accepting and hands its surplus keep-alive connections back.",
  },
  {
    key: "metricsBind", flag: "metrics-bind", meta: "ADDR", section: "Server", parse: optional(namedBindItem), default: "",
    defaultDoc: "off",
    doc: "Serve `GET /metrics` (Prometheus text format), `/healthz` and `/readyz` from the arbiter at this address (the `--bind` forms); never on the app's sockets.",
  },
  {
    key: "serving", flag: "serving", meta: "auto|native|compat", section: "Server", parse: oneOf("auto", "native", "compat"), default: "auto",
    doc: "How the `fetch` worker serves: `native` runs `Bun.serve`/`Deno.serve` on the inherited sockets (Linux); `compat` is node:http, slower but portable; `auto` is native where it works, else compat with a warning saying why.",
  },
  {
    key: "keepAlive", flag: "keep-alive", meta: "S", section: "Server", parse: seconds(0), default: 5,
    doc: "Seconds a connection may wait for its next request head (an idle keep-alive connection), or its first one, before it is closed; 0: no limit (not gunicorn's \"no keep-alive\"); at most 86400 (a day). On Bun's native path `Bun.serve` applies one idle timeout to everything, the larger of this and `--timeout` (a slow response must not be cut): 30 s with the defaults.",
  },
  {
    key: "workers", flag: "workers", short: "w", meta: "N", section: "Workers", parse: int(1, "a positive integer"),
    default: (env: Env) => (env.WEB_CONCURRENCY ? int(1, "a positive integer")(env.WEB_CONCURRENCY, "WEB_CONCURRENCY") : 1),
    defaultDoc: "`$WEB_CONCURRENCY` or 1", atMost: "maxWorkers",
    doc: "Number of worker processes, at most `--max-workers`.",
  },
  {
    key: "maxWorkers", flag: "max-workers", meta: "N", section: "Workers", parse: int(1, "a positive integer"),
    default: () => defaultMaxWorkers(), defaultDoc: "8 per CPU, at least 16",
    doc: "The most workers guvnor runs: a larger `--workers` (or `WEB_CONCURRENCY`, or a config file's `workers`) is an error, and TTIN stops adding workers there. It guards against a typo forking thousands of processes; raise it for a machine that really wants more.",
  },
  {
    key: "workerClass", flag: "worker-class", short: "k", meta: "K", section: "Workers",
    parse: matching(/^(fetch|node|.+:[A-Za-z_$][\w$]*)$/, "fetch, node or path/to/worker.ts:ClassName"), default: "fetch",
    doc: "`fetch` (an object with `fetch(request)`, or a function), `node` (a `(req, res)` listener), or `path/to/worker.ts:ClassName`, a subclass of `Worker` (docs/custom-workers.md).",
  },
  {
    key: "timeout", flag: "timeout", short: "t", meta: "S", section: "Workers", parse: seconds(0), default: 30,
    doc: "A worker silent this long (seconds, at most 86400) is killed and replaced; 0 disables.",
  },
  {
    key: "gracefulTimeout", flag: "graceful-timeout", meta: "S", section: "Workers", parse: seconds(0), default: 30,
    doc: "Seconds workers get to finish in-flight requests on TERM/HUP before they are killed; at most 86400 (a day).",
  },
  {
    key: "bootTimeout", flag: "boot-timeout", meta: "S", section: "Workers", parse: seconds(0), default: 60,
    doc: "A worker that has not started serving this long (seconds, at most 86400) after it was spawned is killed; 0 disables. Separate from timeout, so slow imports are not heartbeat failures.",
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
    key: "env", flag: "env", short: "e", meta: "KEY=VALUE", section: "Workers", parse: list(keyValue, BEFORE_KEY), default: [],
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
    key: "logFormat", flag: "log-format", meta: "text|json", section: "Logging", parse: oneOf("text", "json"), default: "text",
    doc: "`text`: gunicorn's lines; `json`: one JSON object per line in the error log (`time`, `level`, `pid`, `message`) and the access log (docs/control.md).",
  },
  {
    key: "controlSocket", flag: "control-socket", meta: "PATH", section: "Process", parse: str(), default: "guvnor.ctl",
    defaultDoc: "`guvnor.ctl` in the directory guvnor runs in (after `--chdir`)",
    doc: "Unix socket (mode 0600) on which `guvnor ctl` reaches the arbiter; `\"\"` turns it off. A path that cannot be created is a warning, not a failed start.",
  },
  {
    key: "pid", flag: "pid", short: "p", meta: "FILE", section: "Process", parse: str(), default: "",
    defaultDoc: "none", doc: "Write the arbiter's pid to this file (mode 0644), as gunicorn: written to a new file in the same directory and renamed over the path, so a symlink planted there is replaced, never followed. Removed on exit if it still holds the arbiter's pid.",
  },
  {
    key: "name", flag: "name", short: "n", meta: "NAME", section: "Process", parse: str(), default: "",
    defaultDoc: "none", doc: "Names the processes: the title `guvnor: master [NAME]`, `guvnor: worker [NAME]` (what `ps` shows on Deno; Bun keeps it to itself), and the kernel's 15-byte process name `NAME: master`, `NAME: worker` (`ps -o comm`, `top`, on both).",
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
    key: "umask", flag: "umask", meta: "MODE", section: "Process", parse: umask(), default: 0o007,
    defaultDoc: "`007`", doc: "umask applied when binding unix sockets, as octal (`077`). The default `007` leaves a unix socket connectable by the arbiter's user and group only (mode 0770), not by every local user; gunicorn's default is `0` (mode 0777, anyone on the machine may connect): give `--umask 0` for that.",
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
  // TLS and trusted proxies (docs/tls.md).
  {
    key: "certfile", flag: "certfile", meta: "FILE", section: "TLS", parse: str(), default: "", defaultDoc: "none (plain HTTP)",
    doc: "TLS certificate in PEM, the intermediate certificates after it: guvnor serves https. The arbiter reads it at start and on every HUP, so a renewed certificate is served after a HUP.",
  },
  {
    key: "keyfile", flag: "keyfile", meta: "FILE", section: "TLS", parse: str(), default: "", defaultDoc: "the key in `--certfile`",
    doc: "TLS private key in PEM, unencrypted. The arbiter reads it and hands it to the workers, so it may be readable by root only while the workers run as `--user`.",
  },
  {
    key: "caCerts", flag: "ca-certs", meta: "FILE", section: "TLS", parse: str(), default: "", defaultDoc: "none",
    doc: "CA certificates in PEM that client certificates must chain to (with `--cert-reqs`).",
  },
  {
    key: "certReqs", flag: "cert-reqs", meta: "none|optional|required", section: "TLS", parse: certReqs(), default: "none",
    doc: "Client certificates: `none`; `optional`, asked for but a connection without a valid one is let through (a Node app reads `req.socket.authorized`); `required`, the handshake fails without one that chains to `--ca-certs`. gunicorn's `0`, `1`, `2` mean the same.",
  },
  {
    key: "ciphers", flag: "ciphers", meta: "LIST", section: "TLS", parse: str(), default: "", defaultDoc: "the runtime's",
    doc: "OpenSSL cipher list for TLS 1.2 connections, e.g. `ECDHE+AESGCM`. Bun workers only: Deno's TLS takes no cipher list.",
  },
  {
    key: "tlsMinVersion", flag: "tls-min-version", meta: "1.2|1.3", section: "TLS", parse: oneOf("1.2", "1.3"), default: "1.2",
    doc: "Lowest TLS version a client may use.",
  },
  {
    key: "forwardedAllowIps", flag: "forwarded-allow-ips", meta: "IPS", section: "Proxy", parse: list(ipOrNetwork),
    default: (env: Env) => list(ipOrNetwork)(env.FORWARDED_ALLOW_IPS ?? "", "FORWARDED_ALLOW_IPS"),
    defaultDoc: "`$FORWARDED_ALLOW_IPS`, else none",
    doc: "Proxies trusted to say who the client is: addresses or networks (`10.0.0.0/8`), comma-separated or repeated; `*` trusts every peer. From these peers (and on unix sockets, always) `Forwarded`, `X-Forwarded-For` and the secure scheme headers set the client address and scheme the app and the access log see; from any other peer they change nothing. No TCP peer is trusted by default (gunicorn trusts `127.0.0.1,::1`): every local user can connect over loopback, and would choose the client address and scheme the app sees. A proxy on the same host connects over a unix socket or is named: `--forwarded-allow-ips 127.0.0.1`.",
  },
  {
    key: "secureSchemeHeaders", flag: "secure-scheme-headers", meta: "HEADER=VALUE", section: "Proxy", parse: headerValues(),
    default: { "x-forwarded-protocol": "ssl", "x-forwarded-proto": "https", "x-forwarded-ssl": "on" },
    defaultDoc: "`X-Forwarded-Protocol=ssl`, `X-Forwarded-Proto=https`, `X-Forwarded-SSL=on`",
    doc: "Headers a trusted proxy sets on https requests, and their values (gunicorn's `secure_scheme_headers`; a config file may give an object). A request from a trusted proxy with one of them is https; one whose headers disagree is refused with 400.",
  },
  // Request limits and timeouts (docs/limits.md says who enforces each, per runtime and path).
  {
    key: "maxRequestBody", flag: "max-request-body", meta: "BYTES", section: "Server", parse: int(0, "a whole number of bytes, 0 or more"),
    default: 134_217_728, defaultDoc: "`134217728` (128 MiB, Bun's own default)",
    doc: "Largest request body a worker accepts; a larger one is answered 413 (Content-Length over it: before the app runs; a chunked body: when the app reads past it). 0 is no limit.",
  },
  {
    key: "limitRequestLine", flag: "limit-request-line", meta: "BYTES", section: "Server", parse: int(0, "a whole number of bytes, 0 or more"), default: 0,
    defaultDoc: "`0` (the runtime's own limit)", doc: "Longest request line (method, target, version); a longer one is answered 414. 0 leaves it to the runtime.",
  },
  {
    key: "limitRequestFields", flag: "limit-request-fields", meta: "N", section: "Server", parse: int(0, "a whole number, 0 or more"), default: 0,
    defaultDoc: "`0` (the runtime's own limit)", doc: "Most header fields in a request; more are answered 431. 0 leaves it to the runtime.",
  },
  {
    key: "limitRequestFieldSize", flag: "limit-request-field-size", meta: "BYTES", section: "Server", parse: int(0, "a whole number of bytes, 0 or more"), default: 0,
    defaultDoc: "`0` (the runtime's own limit)", doc: "Largest header field (name and value); a larger one is answered 431. 0 leaves it to the runtime.",
  },
  {
    key: "requestTimeout", flag: "request-timeout", meta: "S", section: "Server", parse: seconds(0), default: 0, defaultDoc: "`0` (off)",
    doc: "A request still being answered after this many seconds is cut: 504 if no response has started, else its connection is closed; the app's `request.signal` is aborted and the worker serves on.",
  },
];

/** The default --max-workers: 8 per CPU, at least 16 (gunicorn suggests 2-4 per CPU; the rest is headroom for I/O-bound apps). */
export function defaultMaxWorkers(cpus: number = os.availableParallelism()): number {
  return Math.max(16, 8 * cpus);
}

export const SETTINGS_BY_KEY: ReadonlyMap<string, Setting> = new Map(SETTINGS.map((s) => [s.key, s]));

export const envName = (s: Setting): string => `GUVNOR_${s.flag.toUpperCase().replaceAll("-", "_")}`;

export function defaultOf(s: Setting, env: Env = process.env): unknown {
  return typeof s.default === "function" ? (s.default as (e: Env) => unknown)(env) : s.default;
}
