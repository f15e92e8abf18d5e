// Shared run() of the HTTP worker classes: serve, count, access-log, stop gracefully.
import type http from "node:http";
import process from "node:process";
import { type AccessEntry, formatAccess } from "../log/access.ts";
import { openSink, type Sink } from "../log/sink.ts";
import { Worker } from "./base.ts";
import type { HttpServing, NodeListener } from "./http-compat.ts";

export abstract class HttpWorker extends Worker {
  /** The Node-style listener that serves `this.appExport`. */
  protected abstract listener(): NodeListener | Promise<NodeListener>;

  #accessLog?: Sink;
  #maxRequests = 0;
  /** The node-compat path runs preRequest/postRequest with (req, res); the fetch worker runs them itself with Request/Response. */
  protected nodeRequestHooks = true;

  override async run(): Promise<void> {
    const cfg = this.cfg;
    if (cfg.accessLogfile) this.#accessLog = openSink(cfg.accessLogfile, "stdout");
    if (cfg.maxRequests > 0) this.#maxRequests = cfg.maxRequests + Math.floor(Math.random() * (cfg.maxRequestsJitter + 1));
    const serving = await this.serve();
    this.notify(); // first beat: booted and accepting
    await this.stopRequested();
    await serving.stop(cfg.gracefulTimeout * 1000);
    this.stopHeartbeat();
    this.log.info(`Worker exiting (pid: ${process.pid})`);
  }

  override handleUsr1(): void {
    super.handleUsr1();
    this.#accessLog?.reopen();
  }

  /**
   * Starts serving this.sockets on the node-compat path; the fetch worker tries the native one
   * first. Imported on use, so a natively serving worker does not pay for srvx (and node:http, when
   * nothing else loads it) in start-up time and memory.
   */
  protected async serve(): Promise<HttpServing> {
    const { serveCompat } = await import("./http-compat.ts");
    return serveCompat({ sockets: this.sockets, listener: this.#wrap(await this.listener()), keepAlive: this.cfg.keepAlive });
  }

  /** Call once per request, on any serving path: counts it for max-requests and traces it. */
  protected countRequest(method: string, target: string): void {
    this.trace?.traceStarted(method, target);
    this.nr++;
    if (this.#maxRequests && this.nr === this.#maxRequests) this.requestRecycle(`max-requests (${this.nr}) reached`, 1);
  }

  /** True when --access-logfile is set. */
  protected get logsAccess(): boolean {
    return this.#accessLog !== undefined;
  }

  /** Writes one access log line; call only when logsAccess. */
  protected writeAccess(entry: AccessEntry): void {
    this.#accessLog!.write(formatAccess(this.cfg.accessLogformat, entry) + "\n");
  }

  /** Counts requests for max-requests and writes the access log line when the response is done. */
  #wrap(inner: NodeListener): NodeListener {
    const { preRequest, postRequest } = this.nodeRequestHooks ? this.hooks : {};
    const serve: NodeListener = (req, res) => {
      this.countRequest(req.method ?? "-", req.url ?? "-");
      if (this.#accessLog) this.#logWhenDone(req, res);
      if (postRequest) res.once("finish", () => void this.callHook("postRequest", req, res));
      inner(req, res);
    };
    if (!preRequest) return serve;
    return (req, res) => void this.callHook("preRequest", req).then(() => serve(req, res));
  }

  #logWhenDone(req: http.IncomingMessage, res: http.ServerResponse): void {
    const start = new Date(), t0 = performance.now();
    let bytes = 0;
    const write = res.write, end = res.end;
    const count = (chunk: unknown) => {
      if (typeof chunk === "string") bytes += Buffer.byteLength(chunk);
      else if (chunk && typeof (chunk as Uint8Array).byteLength === "number") bytes += (chunk as Uint8Array).byteLength;
    };
    res.write = function (this: http.ServerResponse, ...args: unknown[]) {
      count(args[0]);
      return write.apply(this, args as Parameters<typeof write>);
    } as typeof res.write;
    res.end = function (this: http.ServerResponse, ...args: unknown[]) {
      if (typeof args[0] !== "function") count(args[0]);
      return end.apply(this, args as Parameters<typeof end>);
    } as typeof res.end;
    res.once("close", () => {
      const entry: AccessEntry = {
        remoteAddr: req.socket.remoteAddress ?? "-",
        method: req.method ?? "-",
        target: req.url ?? "-",
        httpVersion: req.httpVersion,
        status: res.statusCode,
        bytes: req.method === "HEAD" ? 0 : bytes,
        requestHeader: (n) => { const v = req.headers[n]; return Array.isArray(v) ? v.join(", ") : v; },
        responseHeader: (n) => { const v = res.getHeader(n); return v === undefined ? undefined : String(v); },
        start,
        durationMs: performance.now() - t0,
      };
      this.#accessLog!.write(formatAccess(this.cfg.accessLogformat, entry) + "\n");
    });
  }
}
