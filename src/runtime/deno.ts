// Deno adapter. Keep the member order of bun.ts so a diff shows only the real differences.
import type http from "node:http";
import type net from "node:net";
import process from "node:process";
// node:http, node:https and node:net are for the compat path and watchFd only: loaded then
// (getBuiltinModule is synchronous).
import type { RemoteAddr } from "../types.ts";
import { nodeTlsOptions, type TlsServing } from "./tls.ts";
import type { ChildProcessHandle, Closable, FfiSymbol, FfiType, NativeInfo, NativeServeOptions, NativeServer, Runtime, SpawnOptions } from "./types.ts";
import { READ_GAP_MS } from "./types.ts";

// deno-lint-ignore no-explicit-any
const Deno = (globalThis as any).Deno;
const ffiType: Record<FfiType, string> = { i32: "i32", u32: "u32", i64: "i64", u64: "u64", buffer: "buffer", pointer: "pointer", void: "void" };

export const deno: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  execPath: Deno.execPath(),
  // For a module run from a URL, process.argv[1] is a made-up local path; the URL starts it again.
  mainScript: Deno.mainModule.startsWith("file:") ? process.argv[1] ?? "" : Deno.mainModule,


  childFds(fds) {
    return fds;
  },

  spawn(opts: SpawnOptions): ChildProcessHandle {
    // Deno.Command cannot place fds, but a child inherits every fd without close-on-exec at
    // the same number, which is how our listeners are made. (node:child_process can place
    // fds, but reports any child it has sent a signal to as killed by it, losing the exit code.)
    const child = new Deno.Command(opts.cmd[0], {
      args: opts.cmd.slice(1),
      cwd: opts.cwd,
      env: opts.env,
      clearEnv: true,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    }).spawn();
    const exited = child.status.then((s: { code: number; signal: string | null }) => ({
      code: s.signal ? null : s.code,
      signal: s.signal,
    }));
    return { pid: child.pid, exited, kill: (signal) => child.kill(signal) };
  },

  onSignal(signal, handler) {
    Deno.addSignalListener(signal, handler);
  },

  dlopen(path, symbols) {
    const defs: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(symbols as Record<string, FfiSymbol>)) {
      defs[name] = { parameters: s.args.map((t) => ffiType[t]), result: ffiType[s.returns] };
    }
    return Deno.dlopen(path, defs).symbols;
  },

  readDirNames: (path) => Array.from(Deno.readDirSync(path), (e: { name: string }) => e.name),
  readLink: (path) => Deno.readLinkSync(path),
  readTextFile: (path) => Deno.readTextFileSync(path),
  writeTextFile: (path, text) => Deno.writeTextFileSync(path, text),
  exists(path) {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  },
  writeStd: (fd, bytes) => (fd === 1 ? Deno.stdout : Deno.stderr).writeSync(bytes),

  readI32(pointer) {
    return new Deno.UnsafePointerView(pointer).getInt32();
  },

  memoryAt(pointer, length) {
    const p = pointer === null ? 0n : Deno.UnsafePointer.value(pointer);
    return p === 0n || p === 0xffffffffffffffffn ? null : Deno.UnsafePointerView.getArrayBuffer(pointer, length);
  },

  nodeServer(listener: http.RequestListener, secure?: TlsServing): { server: http.Server; connectionEvent: "connection" | "secureConnection" } {
    // An https.Server: a TLS socket emitted into Deno's http.Server is closed after one response
    // (no keep-alive: a handshake per request, 30x the CPU). Its TLS sockets come with secureConnection.
    if (secure) return { server: process.getBuiltinModule("node:https").createServer(nodeTlsOptions(secure), listener), connectionEvent: "secureConnection" };
    return { server: process.getBuiltinModule("node:http").createServer(listener), connectionEvent: "connection" };
  },

  listenNodeOnFd(server: http.Server, fd: number): Promise<Closable> {
    // Deno's node:http (and node:https) adopts the fd directly.
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      // close() stops accepting at once; open connections are the caller's to finish.
      server.listen({ fd }, () => resolve({ close: () => Promise.resolve(void server.close()) }));
    });
  },

  serveNative(opts: NativeServeOptions): NativeServer {
    // Deno.serve on a unix socket ignores cert and key: it would serve plain HTTP.
    if (opts.tls && opts.at.kind === "unix") throw new Error("Deno.serve does not serve TLS on a unix socket");
    const secure = opts.tls && denoTls(opts.tls);
    const cut = new AbortController();
    const server = Deno.serve({
      ...(opts.at.kind === "unix" ? { transport: "unix", path: opts.at.path } : { hostname: "127.0.0.1", port: 0 }),
      signal: cut.signal,
      ...secure,
      onListen() {}, // Deno prints "Listening on …" otherwise: the throw-away address, which would mislead
    }, (request: Request, info: DenoServeInfo) => opts.handler(request, new DenoInfo(info)));
    let shutdown = false;
    return {
      at: opts.at.kind === "unix" ? { path: opts.at.path } : { port: server.addr.port },
      stop: () => {
        shutdown = true;
        return server.shutdown();
      },
      // After shutdown() closed the listener, the abort listener inside Deno.serve closes it again
      // and throws an uncaught BadResource that kills the process: leave what is left to the exit.
      abort: () => void (shutdown || cut.abort()),
      closesIdle: false,
      limitsBody: false,
      ended: server.finished,
    };
  },

  watchFd(fd, onData) {
    // Deno's node:fs streams refuse fds they did not open; node:net takes a socket's.
    const socket = new (process.getBuiltinModule("node:net").Socket)({ fd, readable: true, writable: false } as net.SocketConstructorOpts);
    // At most one read per READ_GAP_MS: a writer that never stops costs a reader little.
    socket.on("data", () => {
      onData();
      socket.pause();
      setTimeout(() => socket.resume(), READ_GAP_MS);
    });
    socket.on("error", () => {});
    return () => void socket.destroy();
  },

  interceptWebSocketUpgrade(take, ours) {
    const original = Deno.upgradeWebSocket;
    Deno.upgradeWebSocket = (request: Request, options?: unknown) => (ours(request) ? take(request) : original.call(Deno, request, options));
  },

  onUpgrade(hook) {
    for (const name of ["upgradeWebSocket", "upgradeHttpRaw"] as const) {
      const original = Deno[name];
      if (typeof original !== "function") continue;
      Deno[name] = (request: Request, ...rest: unknown[]) => {
        hook(request);
        return original.call(Deno, request, ...rest);
      };
    }
  },
};

/** Deno.serve's TLS options: a certificate and key, nothing else (it offers h2 and http/1.1 by ALPN). */
function denoTls(t: TlsServing): { cert: string; key: string } {
  if (t.requestCert) throw new Error("Deno.serve takes no client certificates (--cert-reqs)");
  if (t.minVersion !== "TLSv1.2") throw new Error(`Deno.serve has no minimum TLS version setting (--tls-min-version ${t.minVersion.slice(4)})`);
  return { cert: t.cert, key: t.key };
}

interface DenoServeInfo {
  remoteAddr: { transport: "tcp" | "unix"; hostname?: string; port?: number };
  completed: Promise<void>;
}

/** ServeInfo over Deno's handler info, with Bun's requestIP() beside it; built on first use, per request. */
class DenoInfo implements NativeInfo {
  #addr?: RemoteAddr;
  readonly #info: DenoServeInfo;
  constructor(info: DenoServeInfo) {
    this.#info = info;
  }

  get completed(): Promise<void> {
    return this.#info.completed;
  }

  get remoteAddr(): RemoteAddr {
    if (this.#addr) return this.#addr;
    const a = this.#info.remoteAddr;
    return (this.#addr = a.transport === "tcp" ? { hostname: a.hostname!, port: a.port!, transport: "tcp" } : { hostname: "", port: 0, transport: "unix" });
  }

  requestIP(): { address: string; port: number; family: string } | null {
    const a = this.remoteAddr;
    return a.transport === "tcp" ? { address: a.hostname, port: a.port, family: a.hostname.includes(":") ? "IPv6" : "IPv4" } : null;
  }
}
