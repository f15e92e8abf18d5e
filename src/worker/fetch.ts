// The default worker class: serves `export default { fetch }` objects and (request) => Response
// functions, natively (Bun.serve / Deno.serve on the inherited sockets) where that works, else
// on the node-compat path. Both paths share the app call below: a 500 and a logged stack for an
// exception, request counting, the access log.
import type http from "node:http";
import { AppLoadError, WorkerBootError } from "../errors.ts";
import { expectAppKind, resolveApp } from "../app/load.ts";
import type { NativeHandler, NativeInfo } from "../runtime/index.ts";
import type { FetchHandler, ServeInfo } from "../types.ts";
import type { AccessEntry } from "../log/access.ts";
import { logUpgrade, logWhenSent, seeRequest } from "./fetch-access.ts";
import type { HttpServing, NodeListener, ServeOptions } from "./http-compat.ts";
import { type NativeServing, serveNative } from "./http-native.ts";
import { balanceTable } from "./balance.ts";
import { HttpWorker } from "./http-worker.ts";
import { serverNeeds } from "./frameworks.ts";
import { errorResponse, isBodyTooLarge, limitChunkedBody, limitsOf, refusal, type RequestLimits, withDeadline } from "./limits.ts";
import { applyForwarded, FORWARDED, type Forwarded, forwardFetch } from "./forwarded.ts";

export class FetchWorker extends HttpWorker {
  #fetch?: FetchHandler;
  #native?: NativeServing;
  #limits?: RequestLimits;
  protected override nodeRequestHooks = false;

  /** The app's fetch; resolved once, after initProcess() loaded the module. */
  get appFetch(): FetchHandler {
    if (this.#fetch) return this.#fetch;
    return (this.#fetch = expectAppKind(resolveApp(this.appExport, this.app.spec), "fetch", this.app.spec).fetch);
  }

  /** --serving: native unless told otherwise; auto falls back to compat with one line saying why. */
  protected override async serve(): Promise<HttpServing> {
    const mode = this.cfg.serving ?? "auto";
    if (mode === "compat") {
      this.log.info("Using worker: fetch (compat)");
      return await super.serve();
    }
    const { websocket, onServer } = serverNeeds(this.appExport);
    try {
      this.appFetch; // a Node-style app is a load error, not a reason to fall back
      // Bun's idleTimeout also cuts a slow response: tie it to the worker timeout, as gunicorn
      // would cut a request that outlives the worker (Bun's maximum is 255 s).
      const idleTimeout = Math.min(255, Math.max(this.cfg.keepAlive, this.cfg.timeout || 255));
      const balance = balanceTable();
      const serving = serveNative({
        sockets: this.sockets, handler: this.#nativeHandler(), websocket, idleTimeout, keepAlive: this.cfg.keepAlive, maxRequestBody: this.cfg.maxRequestBody, log: this.log, tls: this.tlsServing, balance,
      });
      try {
        if (onServer && serving.appServer) onServer(serving.appServer);
      } catch (err) {
        serving.abort(); // the compat path serves instead: nothing of the native one may stay
        throw err;
      }
      this.#native = serving;
      this.log.info("Using worker: fetch (native)");
      return serving;
    } catch (err) {
      if (err instanceof AppLoadError) throw err;
      const why = (err as Error).message;
      if (mode === "native") throw new WorkerBootError(`Can't serve natively (--serving native): ${why}`, { cause: err });
      this.log.warn(`Using worker: fetch (compat): native serving unavailable: ${why}`);
      return await super.serve();
    }
  }

  protected async listener(): Promise<NodeListener> {
    const { toNodeHandler } = await import("srvx/node");
    const handler = (request: Request): Promise<Response> | Response => {
      // srvx's request carries the node:http pair it was built from.
      const req = (request as unknown as { runtime?: { node?: { req: http.IncomingMessage & { [FORWARDED]?: Forwarded } } } }).runtime?.node?.req;
      const f = req?.[FORWARDED]; // what a trusted proxy said, read on the node path (forwardNode)
      const { request: r, info } = f ? applyForwarded(f, request, serveInfo(req)) : { request, info: serveInfo(req) };
      return this.#call(r, info) as Promise<Response> | Response;
    };
    return toNodeHandler(handler as Parameters<typeof toNodeHandler>[0]) as NodeListener;
  }

  /** WebSockets on the compat path, through either runtime's API (ws-compat.ts). */
  protected override async upgrades(): Promise<ServeOptions["upgrade"]> {
    const { CompatWebSockets } = await import("./ws-compat.ts");
    const ws = new CompatWebSockets(serverNeeds(this.appExport).websocket as never, (r, info) => this.#call(r, info));
    return {
      handle: (req, socket, head) => {
        const start = new Date(), t0 = performance.now();
        void ws.handle(req, socket, head, serveInfo(req)).then((status) => {
          if (!this.logsAccess) return;
          const header = (n: string) => { const v = req.headers[n]; return Array.isArray(v) ? v.join(", ") : v; };
          this.writeAccess({
            remoteAddr: req.socket.remoteAddress ?? "-", method: req.method ?? "GET", target: req.url ?? "/", httpVersion: req.httpVersion,
            status, bytes: 0, requestHeader: header, responseHeader: () => undefined, start, durationMs: performance.now() - t0,
          });
        });
      },
      closeAll: () => ws.closeAll(),
    };
  }

  /**
   * The native path's handler: traced and counted (in flight while the app works, then the status
   * class and the time until its response is ready; a Bun WebSocket upgrade, with no Response,
   * counts as 101). One function per request, no wrapper layers: this is the hot path.
   */
  #nativeHandler(): NativeHandler {
    return (request, info) => {
      let url = request.url;
      const fixed = this.#native?.hostless(url, info);
      if (fixed) {
        const { method, headers, body } = request; // not its signal: Deno warns about listening to it
        request = new Request((url = fixed), { method, headers, body, duplex: "half" } as RequestInit);
      }
      const target = targetOf(url);
      const at = this.requestStarted(request.method, target);
      let res;
      try {
        res = this.#route(request, info, target);
      } catch (err) {
        this.requestDone(500, at);
        throw err;
      }
      if (!(res instanceof Promise)) return this.requestDone(res ? res.status : 101, at), res;
      return res.then((r) => (this.requestDone(r ? r.status : 101, at), r), (err) => {
        this.requestDone(500, at);
        throw err;
      });
    };
  }

  /** What the balancer and a trusted proxy make of the request, then the app. */
  #route(request: Request, info: NativeInfo, target: string): Response | undefined | Promise<Response | undefined> {
    // The balancer counts connections: the peer the connection has, before any proxy speaks.
    const balancer = this.#native?.balancer;
    let handBack = false;
    if (balancer?.due()) {
      const a = info.remoteAddr;
      handBack = balancer.seen(a.port ? `${a.hostname}:${a.port}` : "");
    }
    const proxies = this.proxies;
    if (proxies) {
      const fw = forwardFetch(proxies, request, info);
      if (fw instanceof Response) {
        const res = this.logsAccess ? logWhenSent(request, seeRequest(request, info), fw, (e) => this.writeAccess(e)) : fw;
        return handBack ? this.#handBack(res) : res;
      }
      if (fw) ({ request, info } = fw);
    }
    return handBack ? this.#handBack(this.#served(request, info, target)) : this.#served(request, info, target);
  }

  #served(request: Request, info: NativeInfo, target: string): Response | undefined | Promise<Response | undefined> {
    if (!this.logsAccess) return this.#call(request, info, target);
    const seen = seeRequest(request, info), write = (e: AccessEntry) => this.writeAccess(e);
    const log = (res: Response | undefined) => {
      if (info.upgraded) logUpgrade(request, seen, write);
      else if (res) return logWhenSent(request, seen, res, write);
      return res;
    };
    const res = this.#call(request, info, target);
    return res instanceof Promise ? res.then(log) : log(res);
  }

  /** The balancer gives this connection back: `Connection: close`, and the client reconnects to a worker with room. */
  #handBack(res: Response | undefined | Promise<Response | undefined>): Response | undefined | Promise<Response | undefined> {
    if (res instanceof Promise) return res.then((r) => this.#handBack(r) as Response | undefined);
    if (!res || res.status === 101) return res; // a WebSocket upgrade keeps its connection
    try {
      res.headers.set("connection", "close");
      return res;
    } catch {
      // immutable headers (Response.redirect, a fetch() result): a copy can carry it
      const copy = new Response(res.body, res);
      copy.headers.set("connection", "close");
      return copy;
    }
  }

  /** Applies the request limits and --request-timeout, then calls the app. */
  #call(request: Request, info: NativeInfo, target = targetOf(request.url)): Response | undefined | Promise<Response | undefined> {
    const l = (this.#limits ??= limitsOf(this.cfg));
    // Deno builds request.headers on first use (a quarter of a hello-world's throughput): look at
    // them only when there is a body to limit, or a header limit is set. Bun.serve limits bodies
    // itself; even asking it whether there is a body costs a tenth of a hello-world request.
    const body = l.maxBody > 0 && !this.#native?.limitsBody && request.body !== null;
    if (body || l.line || l.fields || l.fieldSize) {
      const status = refusal(l, request.method, target, () => request.headers, body ? request.headers.get("content-length") : null);
      if (status) return errorResponse(status);
    }
    const limited = body ? limitChunkedBody(request, l.maxBody) : request;
    if (!this.cfg.requestTimeout) return this.#hooked(limited, info);
    return withDeadline(limited, this.cfg.requestTimeout * 1000, (r) => this.#hooked(r, info), (what) => {
      this.log.warn(`Request timeout (${this.cfg.requestTimeout} s): ${request.method} ${target.split("?")[0]}: ${what}`);
    });
  }

  /** Calls the app, between the preRequest and postRequest hooks when the config defines them. */
  #hooked(request: Request, info: NativeInfo): Response | undefined | Promise<Response | undefined> {
    if (!this.hooks.preRequest && !this.hooks.postRequest) return this.#callApp(request, info);
    return (async () => {
      await this.callHook("preRequest", request);
      const res = await this.#callApp(request, info);
      void this.callHook("postRequest", request, res);
      return res;
    })();
  }

  /** Calls the app; stays synchronous when the app is, since most hello-sized handlers are. */
  #callApp(request: Request, info: NativeInfo): Response | undefined | Promise<Response | undefined> {
    const fetch = this.appFetch; // called as a plain function, so stacks read "at fetch"
    let res: unknown;
    try {
      res = fetch(request, info);
    } catch (err) {
      return this.#fail(request, err);
    }
    if (res instanceof Response) return res;
    if (typeof (res as Promise<unknown> | undefined)?.then === "function") return (res as Promise<unknown>).then((r) => this.#check(request, info, r), (err) => this.#fail(request, err));
    return this.#check(request, info, res);
  }

  #check(request: Request, info: NativeInfo, res: unknown): Response | undefined {
    if (res instanceof Response) return res;
    if (res === undefined && info.upgraded) return undefined; // Bun: server.upgrade() took the connection
    const what = res !== null && typeof res === "object" ? String(res) : typeof res;
    return this.#fail(request, `the app returned ${what}, not a Response`);
  }

  #fail(request: Request, err: unknown): Response {
    if (isBodyTooLarge(err)) return errorResponse(413);
    const url = request.url, at = url.indexOf("/", url.indexOf("//") + 2);
    const where = `Error handling request ${request.method} ${(at === -1 ? url : url.slice(at)).split("?")[0]}`;
    if (typeof err === "string") this.log.error(`${where}: ${err}`);
    else this.log.error(where, err);
    return new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain" } });
  }
}

/** The path and query of a request URL, without parsing it. */
function targetOf(url: string): string {
  return url.slice(url.indexOf("/", url.indexOf("//") + 2));
}

function serveInfo(req: http.IncomingMessage | undefined): ServeInfo {
  const hostname = req?.socket.remoteAddress ?? "", port = req?.socket.remotePort ?? 0;
  const family = req?.socket.remoteFamily ?? "";
  return {
    remoteAddr: { hostname, port, transport: hostname ? "tcp" : "unix" },
    requestIP: () => (hostname ? { address: hostname, port, family } : null),
  };
}
