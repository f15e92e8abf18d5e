// The node-compat serving path: node:http on the inherited fds (Bun: node:net + emit).
// Slower than the native servers (Bun's node:http on an fd about a third of Bun.serve's
// throughput, Deno's about 0.6x Deno.serve's) but works everywhere; the native paths
// (http-native.ts) sit behind the same HttpServing interface.
import { notePeer } from "./forwarded.ts";
import type http from "node:http";
import type net from "node:net";
import { runtime } from "../runtime/index.ts";
import type { Closable } from "../runtime/index.ts";
import type { SocketInfo } from "../types.ts";
import type { TlsServing } from "../runtime/tls.ts";
import { close, dup } from "../sockets/libc.ts";
import type { Logger } from "../log/logger.ts";
import { oncePerSecond } from "./fd-limit.ts";

export type NodeListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A running HTTP server on the worker's sockets. */
export interface HttpServing {
  /** Stops accepting; in-flight requests finish; resolves when every connection is closed or after graceMs. */
  stop(graceMs: number): Promise<void>;
  /** Resolves with the reason when the server stopped serving without being asked to. */
  broken?: Promise<string>;
}

export interface ServeOptions {
  sockets: SocketInfo[];
  listener: NodeListener;
  /** Idle keep-alive seconds; also how long a connection with no request yet gets at stop. */
  keepAlive: number;
  /** Serve TLS (node:tls handshakes before node:http sees the connection). */
  tls?: TlsServing;
  /** WebSocket upgrades (ws-compat.ts); without it an upgrade request goes to the listener. */
  upgrade?: { handle(req: http.IncomingMessage, socket: net.Socket, head: Uint8Array): void; closeAll(): number };
  /** Open connections at which accepting pauses until some close (see fd-limit.ts). */
  maxConnections?: number;
  log?: Logger;
}

interface ConnState {
  inflight: number;
  served: number;
  /** Closes the connection when no request head has come within keep-alive seconds. */
  waiting?: ReturnType<typeof setTimeout>;
  /** A WebSocket now (ws-compat.ts): it lasts to the graceful deadline. */
  ws?: boolean;
}

export async function serveCompat(opts: ServeOptions): Promise<HttpServing> {
  const conns = new Map<net.Socket, ConnState>();
  let closing = false;
  let onDrained: (() => void) | undefined;

  // Neither runtime's node:http applies keepAliveTimeout and a header timeout to every case (a
  // client that connects and says nothing, or dribbles its request head, is kept for ever): a
  // connection gets keep-alive seconds to send each request head, from its opening or its last response.
  const idleMs = opts.keepAlive * 1000;
  const wait = (socket: net.Socket, st: ConnState) => {
    clearTimeout(st.waiting);
    if (idleMs > 0) st.waiting = setTimeout(() => socket.destroy(), idleMs);
  };
  const onRequest: NodeListener = (req, res) => {
    const st = conns.get(req.socket);
    if (st) {
      st.inflight++;
      clearTimeout(st.waiting);
    }
    if (closing) res.setHeader("Connection", "close");
    res.once("close", () => {
      if (st) { st.inflight--; st.served++; }
      if (closing && st?.inflight === 0) req.socket.end();
      else if (st?.inflight === 0 && !req.socket.destroyed) wait(req.socket, st);
    });
    opts.listener(req, res);
  };
  // Accepting pauses at maxConnections, before the fd table is full (Deno's node:http stops
  // accepting for good after one EMFILE), and resumes when a tenth of them have closed.
  const max = opts.maxConnections ?? Infinity;
  const warn = oncePerSecond((line) => opts.log?.warn(line));
  let paused: Promise<void> | undefined;
  const onConnection = (socket: net.Socket) => {
    const st: ConnState = { inflight: 0, served: 0 };
    conns.set(socket, st);
    wait(socket, st);
    if (conns.size >= max && !paused && !closing) {
      warn(`${conns.size} open connections, the most this worker's open file limit allows: not accepting until some close`);
      paused = Promise.all(acceptors.splice(0).map((a) => a.close())).then(() => {});
    }
    socket.once("close", () => {
      clearTimeout(st.waiting);
      conns.delete(socket);
      if (closing && conns.size === 0) onDrained?.();
      if (paused && !closing && conns.size < max * 0.9) {
        const was = paused;
        paused = undefined;
        void was.then(listenAll).catch((err) => opts.log?.error("Can't accept again", err));
      }
    });
  };

  // One http.Server per socket and per listen: Deno's can listen only once. Each listens on its
  // own copy of the fd, which its close() closes, so accepting can pause and resume.
  const acceptors: Closable[] = [];
  const listenAll = async () => {
    for (const s of opts.sockets) {
      const { server, connectionEvent } = runtime.nodeServer(onRequest, opts.tls);
      server.keepAliveTimeout = opts.keepAlive * 1000;
      const unix = s.kind === "unix";
      server.on(connectionEvent, (socket: net.Socket) => {
        notePeer(socket, unix);
        onConnection(socket);
      });
      if (opts.upgrade) {
        server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Uint8Array) => {
          const st = conns.get(socket);
          if (st) {
            clearTimeout(st.waiting); // a WebSocket owes no request head
            st.ws = true;
          }
          opts.upgrade!.handle(req, socket, head);
        });
      }
      server.on("clientError", (_err, socket) => {
        if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      });
      acceptors.push(await runtime.listenNodeOnFd(server, dup(s.fd), opts.tls));
    }
  };
  await listenAll();

  return {
    async stop(graceMs) {
      // 1. Stop accepting; queued connections stay in the shared backlog for the other workers.
      //    With our last copy of each socket closed, once every process has, connections are refused.
      closing = true;
      const drained = new Promise<void>((r) => (onDrained = r));
      await Promise.all([...acceptors.map((a) => a.close()), paused]);
      for (const s of opts.sockets) close(s.fd);
      if (conns.size === 0) return;
      // 2. Idle keep-alive connections close now; busy ones close after their response
      //    (Connection: close); a connection that has not sent a request yet gets keep-alive seconds.
      for (const [socket, st] of conns) if (st.inflight === 0 && st.served > 0 && !st.ws) socket.end();
      const quiet = setTimeout(() => {
        for (const [socket, st] of conns) if (st.inflight === 0 && !st.ws) socket.destroy();
      }, Math.min(graceMs, opts.keepAlive * 1000));
      // 3. Whatever is left at the graceful timeout is cut.
      const hard = setTimeout(() => {
        let cut = 0;
        for (const st of conns.values()) cut += st.inflight;
        const sessions = opts.upgrade?.closeAll() ?? 0; // close frames first, then the sockets
        if (cut || sessions) opts.log?.warn(`Graceful timeout (${graceMs / 1000} s): cut ${cut} request(s) and ${sessions} WebSocket session(s)`);
        setTimeout(() => { for (const socket of conns.keys()) socket.destroy(); }, sessions ? 100 : 0);
      }, graceMs);
      await drained;
      clearTimeout(quiet);
      clearTimeout(hard);
    },
  };
}
