// The one interface behind which Bun and Deno differ. Everything outside src/runtime/
// receives a Runtime and never looks at globalThis.Bun or globalThis.Deno.
import type http from "node:http";
import type { ServeInfo } from "../types.ts";
import type { TlsServing } from "./tls.ts";

/** How a child process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

export interface ChildProcessHandle {
  readonly pid: number;
  /** Resolves once, when the process has ended. */
  readonly exited: Promise<ExitStatus>;
  kill(signal: string): void;
}

export interface SpawnOptions {
  cmd: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Descriptors to hand over; the child finds them at childFds(fds). */
  fds: number[];
  /** Start the child as this user and group (the runtime never runs as root: --user). */
  uid?: number;
  gid?: number;
}

/** FFI value types shared by both runtimes' dlopen. */
export type FfiType = "i32" | "u32" | "i64" | "u64" | "buffer" | "pointer" | "void";
export interface FfiSymbol {
  args: FfiType[];
  returns: FfiType;
}
// deno-lint-ignore no-explicit-any
export type FfiFunctions<T extends Record<string, FfiSymbol>> = { [K in keyof T]: (...args: any[]) => any };

/** Something that stops accepting connections when closed. */
export interface Closable {
  close(): Promise<void>;
}

/** ServeInfo as a native server builds it; `upgraded` tells a Bun WebSocket upgrade from a missing Response. */
export interface NativeInfo extends ServeInfo {
  readonly upgraded?: boolean;
  /** Deno: settles when the response has been fully delivered (or the client went away). */
  readonly completed?: Promise<void>;
  /** Bun: the port of the listener the request came in on (Bun's server reads it from the socket it now holds). */
  readonly serverPort?: number;
}

/** What a native server calls for each request; undefined only after a Bun WebSocket upgrade. */
export type NativeHandler = (request: Request, info: NativeInfo) => Response | undefined | Promise<Response | undefined>;

export interface NativeServeOptions {
  /** The throw-away address to start on: any loopback port, or a unix socket path. */
  at: { kind: "tcp" } | { kind: "unix"; path: string };
  handler: NativeHandler;
  /** The app's `websocket` handlers (Bun.serve's option); Deno apps upgrade inside fetch. */
  websocket?: unknown;
  /**
   * Seconds a connection may stay silent, waiting for a slow response included: Bun.serve cuts
   * such a request after its idleTimeout (10 s by default). Deno.serve has no such limit.
   */
  idleTimeout: number;
  /** --max-request-body (0: none): Bun.serve enforces it itself; guvnor does on Deno. */
  maxRequestBody?: number;
  /** Serve TLS; throws when this runtime's server cannot do what it asks (the compat path can). */
  tls?: TlsServing;
}

/** Bun.serve / Deno.serve, started on a throw-away address. */
export interface NativeServer {
  /** Where it listens until the inherited socket is swapped in. */
  readonly at: { port: number } | { path: string };
  /** Graceful: closes idle connections, resolves after in-flight requests have finished. */
  stop(): Promise<void>;
  /** Cuts every connection now (Deno, after stop(): nothing; the process exit cuts them). */
  abort(): void;
  /** The server object an app that keeps one should hold (Elysia's `app.server`; Bun). */
  readonly appServer?: unknown;
  /** Requests in flight and WebSocket sessions open (Bun counts them; Deno cannot). */
  pending?(): { requests: number; sessions: number };
  /** True when the server closes idle connections itself (Bun's idleTimeout); Deno.serve does not. */
  readonly closesIdle: boolean;
  /** True when the server answers 413 itself for a body over maxRequestBody, Content-Length and chunked alike (Bun); Deno.serve has no limit. */
  readonly limitsBody: boolean;
  /** Resolves when the server stopped serving on its own (Deno.serve's loop ends on some handler errors); Bun's never does. */
  readonly ended: Promise<void>;
}

export interface Runtime {
  readonly name: "bun" | "deno";
  readonly version: string;
  /** Path of the running executable (the runtime, or a compiled program). */
  readonly execPath: string;
  /** The script this process runs: a path, or a URL for a module run from the network (JSR). */
  readonly mainScript: string;
  /** Where a child of spawn() finds the fds it was handed. */
  childFds(fds: number[]): number[];
  spawn(opts: SpawnOptions): ChildProcessHandle;
  onSignal(signal: string, handler: () => void): void;
  dlopen<T extends Record<string, FfiSymbol>>(path: string, symbols: T): FfiFunctions<T>;
  /**
   * The few file calls a worker makes at start and while it serves (/proc listings, its title, the
   * app's path, log lines), without node:fs, which takes Deno ~8 ms and ~2 MiB to set up. Errors
   * carry node's codes (ENOENT, EMFILE, EAGAIN).
   */
  readDirNames(path: string): string[];
  readLink(path: string): string;
  readTextFile(path: string): string;
  writeTextFile(path: string, text: string): void;
  exists(path: string): boolean;
  /** Writes to stdout (1) or stderr (2); the number of bytes written (a non-blocking pipe may take fewer). */
  writeStd(fd: 1 | 2, bytes: Uint8Array): number;
  /** Reads the int32 at a native pointer (for errno). */
  readI32(pointer: unknown): number;
  /** The native memory at a pointer as an ArrayBuffer (no copy: writes go to that memory), or null for NULL/MAP_FAILED. */
  memoryAt(pointer: unknown, length: number): ArrayBuffer | null;
  /**
   * A node:http server for listenNodeOnFd, serving TLS with `tls`. Each accepted connection's
   * socket — the one `req.socket` will be — comes with the event `connectionEvent`.
   */
  nodeServer(listener: http.RequestListener, tls?: TlsServing): { server: http.Server; connectionEvent: "connection" | "secureConnection" };
  /**
   * Serves a node:http server on an inherited listening fd; the server still emits "connection".
   * Give the `tls` the server was made with by nodeServer().
   */
  listenNodeOnFd(server: http.Server, fd: number, tls?: TlsServing): Promise<Closable>;
  /** Starts the runtime's native HTTP server on a throw-away address (see sockets/adopt.ts). */
  serveNative(opts: NativeServeOptions): NativeServer;
  /** Calls onData when bytes arrive on a socket fd this process holds, at most every READ_GAP_MS; returns a function that stops watching. */
  watchFd(fd: number, onData: () => void): () => void;
  /**
   * Routes the runtime's own WebSocket upgrade call for requests `ours` recognizes to `take`
   * (Deno.upgradeWebSocket, for the compat path); Bun apps upgrade through `info`, so Bun has none.
   */
  interceptWebSocketUpgrade?(take: (request: Request) => { socket: unknown; response: Response }, ours: (request: Request) => boolean): void;
  /**
   * Calls `hook` with each request the app upgrades through the runtime's own call, before the
   * runtime takes its connection (Deno.upgradeWebSocket, Deno.upgradeHttpRaw). Bun upgrades
   * through `info` and closes idle connections itself, so it has none.
   */
  onUpgrade?(hook: (request: Request) => void): void;
}

/** watchFd's pause between reads. */
export const READ_GAP_MS = 10;
