// Deno adapter. Keep the member order of bun.ts so a diff shows only the real differences.
import type http from "node:http";
import type { RemoteAddr } from "../types.ts";
import type { ChildProcessHandle, Closable, FfiSymbol, FfiType, NativeInfo, NativeServeOptions, NativeServer, Runtime, SpawnOptions } from "./types.ts";

// deno-lint-ignore no-explicit-any
const Deno = (globalThis as any).Deno;
const ffiType: Record<FfiType, string> = { i32: "i32", u32: "u32", i64: "i64", u64: "u64", buffer: "buffer", pointer: "pointer", void: "void" };

export const deno: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  execPath: Deno.execPath(),


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

  readI32(pointer) {
    return new Deno.UnsafePointerView(pointer).getInt32();
  },

  memoryAt(pointer, length) {
    const p = pointer === null ? 0n : Deno.UnsafePointer.value(pointer);
    return p === 0n || p === 0xffffffffffffffffn ? null : Deno.UnsafePointerView.getArrayBuffer(pointer, length);
  },

  listenNodeOnFd(server: http.Server, fd: number): Promise<Closable> {
    // Deno's node:http adopts the fd directly.
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      // close() stops accepting at once; open connections are the caller's to finish.
      server.listen({ fd }, () => resolve({ close: async () => void server.close() }));
    });
  },

  serveNative(opts: NativeServeOptions): NativeServer {
    const cut = new AbortController();
    const server = Deno.serve({
      ...(opts.at.kind === "unix" ? { transport: "unix", path: opts.at.path } : { hostname: "127.0.0.1", port: 0 }),
      signal: cut.signal,
      onListen() {}, // Deno prints "Listening on …" otherwise: the throw-away address, which would mislead
    }, (request: Request, info: DenoServeInfo) => opts.handler(request, new DenoInfo(info)));
    return {
      at: opts.at.kind === "unix" ? { path: opts.at.path } : { port: server.addr.port },
      stop: () => server.shutdown(),
      abort: () => cut.abort(),
    };
  },
};

interface DenoServeInfo {
  remoteAddr: { transport: "tcp" | "unix"; hostname?: string; port?: number };
}

/** ServeInfo over Deno's handler info, with Bun's requestIP() beside it. */
class DenoInfo implements NativeInfo {
  readonly remoteAddr: RemoteAddr;
  constructor(info: DenoServeInfo) {
    const a = info.remoteAddr;
    this.remoteAddr = a.transport === "tcp" ? { hostname: a.hostname!, port: a.port!, transport: "tcp" } : { hostname: "", port: 0, transport: "unix" };
  }

  requestIP(): { address: string; port: number; family: string } | null {
    const a = this.remoteAddr;
    return a.transport === "tcp" ? { address: a.hostname, port: a.port, family: a.hostname.includes(":") ? "IPv6" : "IPv4" } : null;
  }
}
