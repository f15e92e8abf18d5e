// --metrics-bind: the arbiter's own small HTTP server for /metrics, /healthz and /readyz. Its
// socket is bound like a --bind listener (so the same address forms work and USR2 can hand it
// to the next arbiter), but close-on-exec: workers never see it, and it never serves the app.
import http from "node:http";
import process from "node:process";
import { AddressError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { runtime } from "../runtime/index.ts";
import type { Closable } from "../runtime/types.ts";
import * as libc from "../sockets/libc.ts";
import { closeListeners, createListeners, type Listener } from "../sockets/listeners.ts";
import { CONTENT_TYPE } from "./metrics.ts";
import { METRICS_FD_ENV } from "../handoff.ts";

/** Connections the metrics server holds at once, and how long it keeps one. */
const MAX_CONNECTIONS = 32, DEADLINE_MS = 10_000;

export interface HealthSource {
  metrics(): string;
  /** The arbiter's loop has run lately. */
  live(): boolean;
  /** A worker serves and the arbiter is not stopping. */
  ready(): boolean;
}

export class MetricsServer {
  #serving?: Closable;
  readonly #server: http.Server;

  private constructor(readonly listener: Listener, source: HealthSource) {
    this.#server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const reply = (status: number, body: string, type = "text/plain; charset=utf-8") => {
        res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
        res.end(req.method === "HEAD" ? undefined : body);
      };
      if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
      if (path === "/metrics") return reply(200, source.metrics(), CONTENT_TYPE);
      if (path === "/healthz") return source.live() ? reply(200, "ok\n") : reply(503, "arbiter loop stalled\n");
      if (path === "/readyz") return source.ready() ? reply(200, "ready\n") : reply(503, "not ready\n");
      reply(404, "not found: try /metrics, /healthz or /readyz\n");
    });
    this.#server.keepAliveTimeout = 5000;
    // Whoever can reach this address must not be able to use up the arbiter's descriptors (it
    // needs them to start workers) nor keep a probe out: a few connections at a time, the oldest
    // making way for a new one, none kept past a deadline however busy it looks.
    const open = new Set<import("node:net").Socket>();
    this.#server.on("connection", (socket: import("node:net").Socket) => {
      if (open.size >= MAX_CONNECTIONS) {
        const oldest = open.values().next().value!;
        open.delete(oldest);
        oldest.destroy();
      }
      open.add(socket);
      const deadline = setTimeout(() => socket.destroy(), DEADLINE_MS);
      socket.once("close", () => {
        clearTimeout(deadline);
        open.delete(socket);
      });
    });
  }

  /** Binds `spec` (or adopts the socket a previous arbiter handed over); throws an AddressError. */
  static async open(spec: string, source: HealthSource, log: Logger, opts: { umask: number }, env: Record<string, string | undefined> = process.env): Promise<MetricsServer> {
    const inherited = env[METRICS_FD_ENV];
    delete env[METRICS_FD_ENV];
    const listener = await createListeners([inherited ? `fd://${inherited}` : spec], { backlog: 64, umask: opts.umask, log }).then(([l]) => l, (err) => {
      // Name the setting: the same words for --bind would send the operator to the wrong flag.
      throw err instanceof AddressError ? new AddressError(`--metrics-bind: ${err.message}`, { cause: err }) : err;
    });
    libc.setCloexec(listener.fd, true);
    return new MetricsServer(listener, source);
  }

  get fd(): number {
    return this.listener.fd;
  }

  /** Starts answering (an upgraded arbiter: once promoted). */
  async serve(log: Logger): Promise<void> {
    if (this.#serving) return;
    this.#serving = await runtime.listenNodeOnFd(this.#server, this.listener.fd);
    log.info(`Metrics at: ${this.listener.address} (/metrics, /healthz, /readyz)`);
  }

  get serving(): boolean {
    return this.#serving !== undefined;
  }

  close(unlink: boolean): void {
    if (this.#serving) void this.#serving.close();
    this.#server.closeAllConnections?.();
    // The accepting server closes its own descriptor; one we never served on is ours to close.
    if (!this.#serving) closeListeners([this.listener], unlink);
    else if (unlink && this.listener.ownedPath) closeListeners([{ ...this.listener, fd: -1 }], true);
    this.#serving = undefined;
  }
}
