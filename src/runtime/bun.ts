// Bun adapter. Keep the member order of deno.ts so a diff shows only the real differences.
import fs from "node:fs";
import type http from "node:http";
import process from "node:process";
// node:http, node:net, node:tls and node:crypto cost a worker ~5 MiB: only the compat path and
// TLS use them, so they are loaded then (getBuiltinModule is synchronous).
import type { RemoteAddr } from "../types.ts";
import { commonTlsOptions, nodeTlsOptions, type TlsServing } from "./tls.ts";
import type { ChildProcessHandle, Closable, FfiSymbol, FfiType, NativeInfo, NativeServeOptions, NativeServer, Runtime, SpawnOptions } from "./types.ts";
import { READ_GAP_MS } from "./types.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
// A variable specifier keeps Deno's type-checker from resolving a Bun builtin.
const BUN_FFI = "bun:ffi";
const ffi = await import(BUN_FFI);
const ffiType: Record<FfiType, string> = { i32: "i32", u32: "u32", i64: "i64", u64: "u64", buffer: "ptr", pointer: "ptr", void: "void" };

export const bun: Runtime = {
  name: "bun",
  version: Bun.version,
  execPath: process.execPath,
  mainScript: process.argv[1] ?? "",


  childFds(fds) {
    return fds.map((_, i) => 3 + i);
  },

  spawn(opts: SpawnOptions): ChildProcessHandle {
    // Bun.spawn places stdio[3+] at fds 3, 4, … and closes every fd not listed.
    const proc = Bun.spawn(opts.cmd, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "inherit", "inherit", ...opts.fds],
      // Not in Bun's published types, but honoured: setgid, then setuid, before exec.
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    });
    const exited = proc.exited.then(() => ({ code: proc.exitCode, signal: proc.signalCode ?? null }));
    return { pid: proc.pid, exited, kill: (signal) => proc.kill(signal) };
  },

  onSignal(signal, handler) {
    process.on(signal as NodeJS.Signals, handler);
  },

  dlopen(path, symbols) {
    const defs: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(symbols as Record<string, FfiSymbol>)) {
      defs[name] = { args: s.args.map((t) => ffiType[t]), returns: ffiType[s.returns] };
    }
    return ffi.dlopen(path, defs).symbols;
  },

  readDirNames: (path) => fs.readdirSync(path),
  readLink: (path) => fs.readlinkSync(path),
  readTextFile: (path) => fs.readFileSync(path, "utf8"),
  writeTextFile: (path, text) => fs.writeFileSync(path, text),
  exists: (path) => fs.existsSync(path),
  writeStd: (fd, bytes) => fs.writeSync(fd, bytes),

  readI32(pointer) {
    return ffi.read.i32(pointer, 0);
  },

  memoryAt(pointer, length) {
    const p = Number(pointer);
    return !p || p === -1 ? null : ffi.toArrayBuffer(pointer, 0, length);
  },

  nodeServer(listener: http.RequestListener): { server: http.Server; connectionEvent: "connection" } {
    // TLS is added at listen: Bun's https.Server does no handshake on a socket emitted to it.
    return { server: process.getBuiltinModule("node:http").createServer(listener), connectionEvent: "connection" };
  },

  listenNodeOnFd(server: http.Server, fd: number, secure?: TlsServing): Promise<Closable> {
    // Bun's http.Server.listen({fd}) ignores the fd (listens on a random port), so
    // accept with node:net and hand each connection to the HTTP server. Bun's https.Server does
    // no handshake on a socket emitted to it; a tls.Server does, then passes the TLS socket on.
    const tlsServer = secure && process.getBuiltinModule("node:tls").createServer(nodeTlsOptions(secure), (socket) => server.emit("connection", socket));
    const acceptor = process.getBuiltinModule("node:net").createServer((socket) => (tlsServer || server).emit("connection", socket));
    return new Promise((resolve, reject) => {
      acceptor.once("error", reject);
      // close() stops accepting at once; open connections are the caller's to finish.
      acceptor.listen({ fd }, () => resolve({ close: () => Promise.resolve(void acceptor.close()) }));
    });
  },

  serveNative(opts: NativeServeOptions): NativeServer {
    const unix = opts.at.kind === "unix";
    const server = Bun.serve({
      ...(opts.at.kind === "unix" ? { unix: opts.at.path } : { hostname: "127.0.0.1", port: 0 }),
      // Bun's own convention is fetch(request, server): the info object carries server.upgrade.
      fetch: (request: Request, srv: BunServer) => opts.handler(request, new BunInfo(request, srv, unix)),
      websocket: opts.websocket,
      idleTimeout: opts.idleTimeout,
      // Never Bun's development error page (it shows source lines to the client): a throw that
      // escapes guvnor's own handling is a plain 500.
      development: false,
      error: () => new Response("Internal Server Error", { status: 500, headers: { "content-type": "text/plain" } }),
      // Bun answers 413 itself, for Content-Length and chunked bodies alike.
      maxRequestBodySize: opts.maxRequestBody || Number.MAX_SAFE_INTEGER,
      ...(opts.tls ? { tls: bunTls(opts.tls) } : {}),
    });
    return {
      at: opts.at.kind === "unix" ? { path: opts.at.path } : { port: server.port },
      stop: () => server.stop(),
      abort: () => void server.stop(true),
      pending: () => ({ requests: server.pendingRequests, sessions: server.pendingWebSockets }),
      appServer: serverFor(server, (request) => upgradedRequests.add(request)),
      closesIdle: true,
      limitsBody: true,
      ended: new Promise<void>(() => {}),
    };
  },

  watchFd(fd, onData) {
    // Bun's net.Socket({fd}) reads nothing from an fd it did not open; a file stream does.
    const reader = Bun.file(fd).stream().getReader();
    let on = true;
    (async () => {
      // At most one read per READ_GAP_MS: a writer that never stops costs a reader little.
      while (on && !(await reader.read()).done) {
        onData();
        await new Promise((r) => setTimeout(r, READ_GAP_MS));
      }
    })().catch(() => {});
    return () => {
      on = false;
      reader.cancel().catch(() => {});
    };
  },
};

/** Bun.serve's tls option; the minimum version is BoringSSL's "no older than" flags. */
function bunTls(t: TlsServing): Record<string, unknown> {
  const { constants } = process.getBuiltinModule("node:crypto");
  const old = constants.SSL_OP_NO_TLSv1 | constants.SSL_OP_NO_TLSv1_1;
  return { ...commonTlsOptions(t), secureOptions: t.minVersion === "TLSv1.3" ? old | constants.SSL_OP_NO_TLSv1_2 : old };
}

interface BunServer {
  requestIP(request: Request): { address: string; port: number; family: string } | null;
  upgrade(request: Request, options?: unknown): boolean;
}

/** ServeInfo over Bun's server; the address is looked up only when the app asks for it. */
/** Requests an app upgraded through the server object it holds (Elysia's app.server). */
const upgradedRequests = new WeakSet<Request>();

/**
 * The Bun server as an app should hold it: upgrade() tells guvnor the connection became a
 * WebSocket (the app then returns no Response), and requestIP() falls back to `fallback`'s
 * request when the app passes a copy of it.
 */
function serverFor(bun: BunServer, upgraded: (r: Request) => void, fallback?: Request): BunServer {
  return new Proxy(bun, {
    get: (target, key) => {
      if (key === "upgrade") {
        return (r: Request, o?: unknown) => {
          const ok = target.upgrade(r, o);
          if (ok) upgraded(r);
          return ok;
        };
      }
      if (key === "requestIP") return (r: Request) => target.requestIP(r) ?? (fallback ? target.requestIP(fallback) : null);
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

class BunInfo implements NativeInfo {
  #upgraded = false;
  #server?: BunServer;
  /** `unix`: the server listens on a unix socket (so a peer without an address is not a TCP client that reset). */
  constructor(readonly request: Request, readonly bun: BunServer, readonly unix: boolean) {}

  get upgraded(): boolean {
    return this.#upgraded || upgradedRequests.has(this.request);
  }

  /** The Bun server, for apps that take it from here (Hono's `c.env.server`). */
  get server(): BunServer {
    return (this.#server ??= serverFor(this.bun, () => (this.#upgraded = true), this.request));
  }

  get serverPort(): number | undefined {
    return (this.bun as { port?: number }).port;
  }

  get remoteAddr(): RemoteAddr {
    if (this.unix) return { hostname: "", port: 0, transport: "unix" };
    // null: the client has already gone (reset); an empty address, trusted by nothing.
    const ip = this.bun.requestIP(this.request);
    return ip ? { hostname: ip.address, port: ip.port, transport: "tcp" } : { hostname: "", port: 0, transport: "tcp" };
  }

  requestIP(request: Request): { address: string; port: number; family: string } | null {
    return this.bun.requestIP(request) ?? this.bun.requestIP(this.request);
  }

  upgrade(request: Request, options?: unknown): boolean {
    return (this.#upgraded = this.bun.upgrade(request, options));
  }
}
