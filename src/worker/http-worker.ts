// Shared run() of the HTTP worker classes: serve, count, access-log, stop gracefully.
import type http from "node:http";
import process from "node:process";
import { type AccessEntry, accessLine } from "../log/access.ts";
import { openSink, type Sink } from "../log/sink.ts";
import { Worker } from "./base.ts";
import { tlsServing, type TlsServing } from "../runtime/tls.ts";
import { FORWARDED, type Forwarded, forwardNode, ProxyTrust } from "./forwarded.ts";
import { connectionCap, raiseLimit } from "./fd-limit.ts";
import type { HttpServing, NodeListener, ServeOptions } from "./http-compat.ts";
import { CounterWriter } from "../control/counters.ts";

export abstract class HttpWorker extends Worker {
  /** The Node-style listener that serves `this.appExport`. */
  protected abstract listener(): NodeListener | Promise<NodeListener>;

  #accessLog?: Sink;
  #maxRequests = 0;
  #fdLimit = Infinity;
  /** Request counters in shared memory, read by the arbiter (/metrics, guvnor ctl); unset, nothing is counted. */
  protected counters?: CounterWriter;
  /** The node-compat path runs preRequest/postRequest with (req, res); the fetch worker runs them itself with Request/Response. */
  protected nodeRequestHooks = true;

  override async run(): Promise<void> {
    const cfg = this.cfg;
    if (cfg.accessLogfile) {
      try {
        this.#accessLog = openSink(cfg.accessLogfile, "stdout");
      } catch (err) {
        this.log.error(`Can't open --access-logfile ${cfg.accessLogfile}, serving without it: ${(err as Error).message}`);
      }
    }
    this.#fdLimit = raiseLimit(this.log);
    if (cfg.maxRequests > 0) this.#maxRequests = cfg.maxRequests + Math.floor(Math.random() * (cfg.maxRequestsJitter + 1));
    if (this.board) this.counters = new CounterWriter(this.board.counters());
    const serving = await this.serve();
    this.notify(); // first beat: booted and accepting
    // A server that stopped serving on its own leaves a live process that answers nothing: exit,
    // so the arbiter replaces this worker.
    const broken = await Promise.race([this.stopRequested().then(() => undefined), serving.broken ?? new Promise<never>(() => {})]);
    if (broken) throw new Error(`Worker can't serve: ${broken}`);
    await serving.stop(cfg.gracefulTimeout * 1000);
    this.stopHeartbeat();
    this.log.info(`Worker exiting (pid: ${process.pid})`);
  }

  override handleUsr1(): void {
    super.handleUsr1();
    try {
      this.#accessLog?.reopen();
    } catch (err) {
      this.log.warn(`Can't reopen the access log, keeping the old one: ${(err as Error).message}`);
    }
  }

  /**
   * Starts serving this.sockets on the node-compat path; the fetch worker tries the native one
   * first. Imported on use, so a natively serving worker does not pay for srvx (and node:http, when
   * nothing else loads it) in start-up time and memory.
   */
  protected async serve(): Promise<HttpServing> {
    const { serveCompat } = await import("./http-compat.ts");
    return serveCompat({
      sockets: this.sockets,
      listener: this.#wrap(await this.listener()),
      keepAlive: this.cfg.keepAlive,
      maxConnections: connectionCap(this.#fdLimit),
      log: this.log,
      tls: this.tlsServing,
      upgrade: await this.upgrades(),
    });
  }

  /** WebSocket upgrades on the compat path; none unless a worker class handles them. */
  protected upgrades(): Promise<ServeOptions["upgrade"]> | ServeOptions["upgrade"] {
    return undefined;
  }

  /** TLS as this worker serves it: the arbiter's material shaped by the settings; undefined for plain HTTP. */
  protected get tlsServing(): TlsServing | undefined {
    return tlsServing(this.cfg, this.tls);
  }

  /** --forwarded-allow-ips and --secure-scheme-headers; null when no proxy is trusted. */
  protected readonly proxies: ProxyTrust | null = ProxyTrust.from({
    forwardedAllowIps: this.cfg.forwardedAllowIps ?? [],
    secureSchemeHeaders: this.cfg.secureSchemeHeaders ?? {},
  }, this.sockets.some((s) => s.kind === "unix"));

  /**
   * Call when a request starts, on any serving path: traces it, counts it (max-requests, the
   * counters' in-flight gauge). Returns when it started, for requestDone(). One clock read,
   * shared by the trace and the counters.
   */
  protected requestStarted(method: string, target: string): number {
    const at = Date.now();
    this.trace?.traceStarted(method, target, at);
    this.counters?.started();
    if (++this.nr === this.#maxRequests) this.requestRecycle(`max-requests (${this.nr}) reached`, 1);
    return at;
  }

  /** Call once per started request when its status is known (a Bun WebSocket upgrade: 101). */
  protected requestDone(status: number, startedAt: number): void {
    this.counters?.finished(status, startedAt);
  }

  /** True when --access-logfile is set. */
  protected get logsAccess(): boolean {
    return this.#accessLog !== undefined;
  }

  /** Writes one access log line; call only when logsAccess. */
  protected writeAccess(entry: AccessEntry): void {
    // Never let a log line break the response it describes (a throw inside Deno.serve's handler
    // after a WebSocket upgrade ends its accept loop).
    try {
      this.#accessLog!.write(accessLine(this.cfg, entry) + "\n");
    } catch (err) {
      this.log.warn(`Access log line dropped: ${(err as Error).message}`);
    }
  }

  /** Counts requests for max-requests and writes the access log line when the response is done. */
  #wrap(inner: NodeListener): NodeListener {
    const { preRequest, postRequest } = this.nodeRequestHooks ? this.hooks : {};
    const proxies = this.proxies;
    const serve: NodeListener = (req, res) => {
      let t0 = this.requestStarted(req.method ?? "-", req.url ?? "-");
      if (this.counters) {
        // "finish": handed to the kernel (before the client can ask /metrics); "close" alone for a cut connection.
        const done = () => void (t0 >= 0 && (this.requestDone(res.statusCode, t0), (t0 = -1)));
        res.once("finish", done).once("close", done);
      }
      if (this.#accessLog) this.#logWhenDone(req, res);
      if (proxies && !forwardNode(proxies, req)) {
        res.writeHead(400, { "content-type": "text/plain", "connection": "close" });
        res.end("Bad Request: the forwarding headers disagree\n");
        return;
      }
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
        remoteAddr: (req as { [FORWARDED]?: Forwarded })[FORWARDED]?.address ?? req.socket.remoteAddress ?? "-",
        method: req.method ?? "-",
        target: req.url ?? "-",
        httpVersion: req.httpVersion,
        scheme: (req as { [FORWARDED]?: Forwarded })[FORWARDED]?.scheme ?? ((req.socket as { encrypted?: boolean }).encrypted ? "https" : "http"),
        status: res.statusCode,
        bytes: req.method === "HEAD" ? 0 : bytes,
        requestHeader: (n) => { const v = req.headers[n]; return Array.isArray(v) ? v.join(", ") : v; },
        responseHeader: (n) => { const v = res.getHeader(n); return v === undefined ? undefined : String(v); },
        start,
        durationMs: performance.now() - t0,
      };
      this.#accessLog!.write(accessLine(this.cfg, entry) + "\n");
    });
  }
}
