// The native serving path: Bun.serve / Deno.serve accepting from the inherited sockets, by
// adoption (sockets/adopt.ts). 3–6x the node-compat path's throughput (wrk, hello world).
import fs from "../sys/lazy-fs.ts";
import os from "node:os";
import path from "node:path";
import { runtime } from "../runtime/index.ts";
import type { NativeHandler, NativeInfo, NativeServer } from "../runtime/index.ts";
import { acceptQueueLength, getsockname } from "../sockets/libc.ts";
import { decodeSockaddr } from "../sockets/address.ts";
import { IdleReaper } from "./idle-reaper.ts";
import { type Adopted, adopt, findEpoll, findListener, pauseAccepting, resumeAccepting, socketFds, stopAccepting } from "../sockets/adopt.ts";
import type { SocketInfo } from "../types.ts";
import { type BalanceTable, Balancer } from "./balance.ts";
import type { HttpServing } from "./http-compat.ts";
import type { TlsServing } from "../runtime/tls.ts";
import type { Logger } from "../log/logger.ts";
import { isFdExhaustion, oncePerSecond } from "./fd-limit.ts";

export interface NativeOptions {
  sockets: SocketInfo[];
  handler: NativeHandler;
  /** The app's `websocket` handlers (Bun). */
  websocket?: unknown;
  /** See NativeServeOptions.idleTimeout. */
  idleTimeout: number;
  /** --keep-alive seconds: how long a connection may wait for its next request (or its first). */
  keepAlive: number;
  maxRequestBody?: number;
  tls?: TlsServing;
  log: Logger;
  /** The table shared by the workers of the same sockets: when given, this worker balances (balance.ts). */
  balance?: BalanceTable;
}

export interface NativeServing extends HttpServing {
  /** Set when balancing: the handler reports each request's connection to it. */
  readonly balancer?: Balancer;
  /** See NativeServer.limitsBody. */
  readonly limitsBody: boolean;
  /** See NativeServer.appServer. */
  readonly appServer?: unknown;
  /** Cuts every connection and stops now, leaving the inherited sockets as they were (for a fallback to compat). */
  abort(): void;
  /** The request URL a Host-less request should have had, when the runtime named the wrong port. */
  hostless(url: string, info: NativeInfo): string | undefined;
}

/**
 * How long a stopping worker keeps serving after it stopped accepting: a connection accepted
 * just before may not have sent its request yet, and Deno's shutdown() closes such a
 * connection at once (Bun's stop() leaves it open). On loopback the request follows within a few ms.
 */
const SETTLE_MS = 250;
/** How long close frames get to leave before a stopping worker exits. */
const FLUSH_MS = 100;

/** Requests and WebSocket sessions the servers still hold (Bun counts them; 0 where unknown). */
function pendingOf(servers: NativeServer[]): { requests: number; sessions: number } {
  let requests = 0, sessions = 0;
  for (const s of servers) {
    const p = s.pending?.();
    requests += p?.requests ?? 0;
    sessions += p?.sessions ?? 0;
  }
  return { requests, sessions };
}

/** One native server per inherited socket; throws an AdoptError (nothing left running) when any step fails. */
export function serveNative(given: NativeOptions): NativeServing {
  let reaper: IdleReaper | undefined;
  const opts = { ...given, handler: withIdleTracking(given.handler, () => reaper) };
  const adopted: AdoptedServer[] = [];
  try {
    opts.sockets.forEach((s, i) => adopted.push(adoptOne(s, i, opts)));
  } catch (err) {
    for (const a of adopted) a.server.abort();
    throw err;
  }
  // Deno.serve has no idle or header timeout: guvnor closes such connections itself.
  const tcp = opts.sockets.filter((s) => s.kind === "tcp");
  if (!adopted[0]?.server.closesIdle && tcp.length && opts.keepAlive > 0) {
    const r = reaper = new IdleReaper(new Set(tcp.map((s) => decodeSockaddr(getsockname(s.fd)).port)), opts.keepAlive * 1000);
    runtime.onUpgrade?.((request) => r.upgrading(request));
  }
  let stopping = false;
  const broken = Promise.withResolvers<string>();
  const warn = oncePerSecond((line) => opts.log.warn(line));
  // A server that stops on its own: after a full fd table (Deno) it is started again on the same
  // socket once descriptors are free; for anything else the worker exits and is replaced.
  const watch = (i: number, retryMs = 100): void => {
    void adopted[i].server.ended.then(() => undefined, (err) => err ?? new Error("failed")).then((err) => {
      if (stopping) return;
      if (!isFdExhaustion(err)) {
        return broken.resolve(err ? `the native server failed: ${(err as Error).message}` : "the native server stopped accepting connections");
      }
      warn(`Accepting failed: ${(err as Error).message}; retrying while connections close`);
      const again = (ms: number): void => void setTimeout(() => {
        if (stopping) return;
        try {
          adopted[i] = adoptOne(opts.sockets[i], i, opts);
          watch(i);
        } catch (e) {
          if (!isFdExhaustion(e)) return broken.resolve(`the native server could not start again: ${(e as Error).message}`);
          warn(`Accepting failed: ${(e as Error).message}; retrying while connections close`);
          again(Math.min(1000, ms * 2));
        }
      }, ms);
      again(retryMs);
    });
  };
  adopted.forEach((_, i) => watch(i));
  const balancer = opts.balance && new Balancer(opts.balance, {
    pause: () => adopted.forEach((a) => pauseAccepting(a.listener)),
    resume: () => adopted.forEach((a) => resumeAccepting(a.listener)),
    queued: () => Math.max(...adopted.map((a) => acceptQueueLength(a.listener.fd))),
  });
  balancer?.start();
  // A request without Host: Deno names the throw-away address in request.url, Bun gives a bare
  // path. Both are made to name the port the client connected to, as for a server on its own port.
  const scheme = opts.tls ? "https" : "http";
  const ports = opts.sockets.map((s) => (s.kind === "tcp" ? decodeSockaddr(getsockname(s.fd)).port : 0));
  const base = (i: number) => (ports[i] ? `${scheme}://localhost:${ports[i]}` : `${scheme}://localhost`);
  const hostless = (url: string, info: NativeInfo): string | undefined => {
    if (url.charCodeAt(0) === 47) {
      // "/path" (Bun): its server's port, read after adoption, is the inherited socket's.
      const at = adopted.length > 1 ? info.serverPort : undefined;
      const i = at ? ports.indexOf(at) : 0;
      return base(Math.max(0, i)) + url;
    }
    for (let i = 0; i < adopted.length; i++) {
      const bad = adopted[i].hostless;
      if (bad && ports[i] && url.startsWith(bad)) return `${scheme}://localhost:${ports[i]}/${url.slice(bad.length)}`;
    }
    return undefined;
  };
  return {
    hostless,
    appServer: adopted[0]?.server.appServer,
    limitsBody: adopted.every((a) => a.server.limitsBody),
    balancer,
    broken: broken.promise,
    abort() {
      stopping = true;
      reaper?.stop();
      balancer?.stop();
      for (const a of adopted) a.server.abort();
    },
    async stop(graceMs) {
      stopping = true;
      reaper?.stop();
      const deadline = Date.now() + graceMs;
      // 1. Stop accepting: new connections wait in the shared backlog for the other workers.
      balancer?.stop();
      for (const a of adopted) stopAccepting(a.listener);
      // 2. Let connections accepted just before deliver their request.
      await sleep(Math.min(SETTLE_MS, graceMs));
      // 3. Deno's shutdown() closes WebSockets at once, where Bun's stop() leaves them to the
      //    deadline: while sessions are open, close every other connection as soon as nothing is
      //    in flight on it, and wait. Both runtimes then send sessions a close frame (1001) at the
      //    deadline.
      let sessionsCut = 0;
      if (reaper?.sweep(0).sessions) {
        while (Date.now() < deadline && (sessionsCut = reaper.sweep(0).sessions)) await sleep(Math.min(200, deadline - Date.now()));
      }
      // 4. Finish in-flight requests and close idle connections, within graceful-timeout.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(FLUSH_MS, deadline - Date.now()))));
      const done = Promise.all(adopted.map((a) => a.server.stop())).then(() => true);
      const finished = await Promise.race([done, late]);
      clearTimeout(timer);
      const left = reaper
        ? { requests: finished ? 0 : reaper.inFlight(), sessions: sessionsCut }
        : finished ? { requests: 0, sessions: 0 } : pendingOf(adopted.map((a) => a.server));
      if (left.requests || left.sessions) opts.log.warn(`Graceful timeout (${graceMs / 1000} s): cut ${left.requests} request(s) and ${left.sessions} WebSocket session(s)`);
      if (!finished) {
        for (const a of adopted) a.server.abort();
        await sleep(FLUSH_MS); // let the close frames go out before the process exits
      }
    },
  };
}

interface AdoptedServer {
  server: NativeServer;
  listener: Adopted;
  /** How the runtime starts the URL of a Host-less request: with its throw-away address (Deno). */
  hostless?: string;
}

function adoptOne(s: SocketInfo, i: number, opts: NativeOptions): AdoptedServer {
  // A unix listener gets a unix throw-away, so accepted sockets have the family the server
  // expects: in a new private directory, where nobody else can have planted anything.
  const dir = s.kind === "unix" ? fs.mkdtempSync(path.join(os.tmpdir(), "guvnor-")) : "";
  const tmp = dir ? path.join(dir, `${i}.sock`) : "";
  const before = socketFds();
  const server = runtime.serveNative({
    at: tmp ? { kind: "unix", path: tmp } : { kind: "tcp" },
    handler: opts.handler,
    websocket: opts.websocket,
    idleTimeout: opts.idleTimeout,
    maxRequestBody: opts.maxRequestBody,
    tls: opts.tls,
  });
  try {
    const fd = findListener(before, server.at);
    const { epfd, entry } = findEpoll(fd);
    const hostless = "port" in server.at ? `${opts.tls ? "https" : "http"}://localhost:${server.at.port}/` : undefined;
    return { server, listener: adopt(s.fd, fd, epfd, entry), hostless };
  } catch (err) {
    server.abort();
    throw err;
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Tells the reaper, once there is one, which requests are in flight. */
function withIdleTracking(handler: NativeHandler, reaper: () => IdleReaper | undefined): NativeHandler {
  return (request, info) => {
    const r = reaper();
    if (r && info.completed) r.started(request, info as NativeInfo & { completed: Promise<void> });
    return handler(request, info);
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
