// The arbiter's control socket: a unix stream socket, mode 0600 and owned by the arbiter's user,
// serving the line protocol of protocol.ts. It is bound with libc (not node:net) so that its fd
// can be handed to the next arbiter on USR2, like the listeners: the old arbiter keeps answering
// until it exits, connections made meanwhile wait in the socket's queue, and the new arbiter
// starts accepting them once it is promoted, so `guvnor ctl` works throughout an upgrade.
import fs from "node:fs";
import type net from "node:net";
import path from "node:path";
import process from "node:process";
import type { Logger } from "../log/logger.ts";
import { decodeSockaddr, encodeUnix } from "../sockets/address.ts";
import * as libc from "../sockets/libc.ts";
import { type ControlTarget, ControlError, dispatch, encodeLine, lineSplitter, parseRequest, PROTOCOL_VERSION } from "./protocol.ts";
import { CONTROL_FD_ENV } from "../handoff.ts";

/** The control socket's fd in a new arbiter started by USR2. */

export class ControlServer {
  #server?: net.Server;
  #starting?: ReturnType<typeof setTimeout>;
  /** The socket file as we created it: removed on exit only if it is still that file. */
  #ours?: { dev: number; ino: number };
  readonly #conns = new Set<net.Socket>();

  constructor(readonly path: string, readonly fd: number, readonly target: ControlTarget, readonly log: Logger) {}

  /**
   * The control socket at `file` (relative to the current directory), or the one a previous
   * arbiter handed over; undefined (with a warning) when it cannot be had. `accept` false: hold
   * the fd but leave its connections queued (an upgrade not yet promoted).
   */
  static open(file: string, target: ControlTarget, log: Logger, accept: boolean, env: Record<string, string | undefined> = process.env): ControlServer | undefined {
    const inherited = env[CONTROL_FD_ENV];
    delete env[CONTROL_FD_ENV];
    if (inherited) {
      const s = adopt(Number(inherited), target, log);
      if (s && accept) s.accept();
      return s;
    }
    if (!file) return undefined;
    const full = path.resolve(file);
    try {
      const s = new ControlServer(full, bindControl(full), target, log);
      s.#ours = identity(full);
      s.accept();
      log.info(`Control socket: ${full}`);
      return s;
    } catch (err) {
      log.warn(`No control socket at ${full}: ${(err as Error).message}`);
      return undefined;
    }
  }

  get accepting(): boolean {
    return this.#server !== undefined || this.#starting !== undefined;
  }

  /**
   * Starts answering (at once, or once an upgraded arbiter is promoted and the file is ours).
   * The server (and node:net) starts when the event loop next comes round: at start, that is
   * after the first workers are spawned. The socket already listens: a client waits in its queue.
   */
  accept(): void {
    if (this.accepting) return;
    this.#ours ??= identity(this.path);
    this.#starting = setTimeout(() => {
      this.#starting = undefined;
      this.#server = process.getBuiltinModule("node:net").createServer((c) => this.#serve(c));
      this.#server.on("error", (err) => this.log.warn(`Control socket ${this.path}: ${err.message}`));
      this.#server.listen({ fd: this.fd });
    }, 0);
  }

  /** Stops accepting; removes the socket file if `unlink` and it is still the one we made. */
  close(unlink: boolean): void {
    clearTimeout(this.#starting);
    this.#starting = undefined;
    if (this.#server) this.#server.close();
    else libc.close(this.fd);
    this.#server = undefined;
    if (!unlink || !this.#ours) return;
    const now = identity(this.path);
    if (now && now.dev === this.#ours.dev && now.ino === this.#ours.ino) fs.rmSync(this.path, { force: true });
  }

  #serve(c: net.Socket): void {
    this.#conns.add(c);
    c.setEncoding("utf8");
    // One request at a time per connection, so replies keep the order of requests.
    let chain = Promise.resolve();
    const feed = lineSplitter((line) => {
      chain = chain.then(() => this.#answer(line)).then((reply) => void (c.writable && c.write(reply)));
    }, () => {
      c.end(encodeLine({ v: PROTOCOL_VERSION, ok: false, error: "request line too long" }));
    });
    c.on("data", (d) => feed(String(d)));
    c.on("error", () => {});
    c.on("close", () => this.#conns.delete(c));
  }

  async #answer(line: string): Promise<string> {
    try {
      const data = await dispatch(this.target, parseRequest(line));
      return encodeLine({ v: PROTOCOL_VERSION, ok: true, data: data ?? null });
    } catch (err) {
      if (!(err instanceof ControlError)) this.log.error("Control request failed", err);
      return encodeLine({ v: PROTOCOL_VERSION, ok: false, error: (err as Error).message });
    }
  }
}

/**
 * Binds a new unix socket at `full`, mode 0600 (the umask at bind time decides it). An existing
 * path is only ever replaced if it is a socket of ours that nobody answers on (left by a crash);
 * bind() itself never follows a symbolic link.
 */
function bindControl(full: string): number {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(full);
  } catch { /* absent: the usual case */ }
  if (st) {
    if (!st.isSocket()) throw new Error("the path exists and is not a socket; leaving it alone");
    if (st.uid !== process.getuid?.()) throw new Error(`the socket there belongs to uid ${st.uid}; leaving it alone`);
    if (libc.unixSocketAnswers(full)) throw new Error("another process answers on it (another guvnor in this directory? use --control-socket)");
    fs.rmSync(full);
  }
  const fd = libc.socket(libc.AF_UNIX);
  libc.setCloexec(fd, true); // never inherited by workers, which run the app
  const old = libc.umask(0o177);
  try {
    libc.bind(fd, encodeUnix(full));
    libc.listen(fd, 64);
  } catch (err) {
    libc.close(fd);
    throw err;
  } finally {
    libc.umask(old);
  }
  return fd;
}

/** A control socket the previous arbiter handed over (USR2). */
function adopt(fd: number, target: ControlTarget, log: Logger): ControlServer | undefined {
  try {
    if (!Number.isInteger(fd) || fd < 3 || !libc.isListeningStream(fd)) throw new Error("not a listening socket");
    const sa = decodeSockaddr(libc.getsockname(fd));
    if (sa.family !== 1 || !sa.path) throw new Error("not a unix socket with a path");
    libc.setCloexec(fd, true);
    log.info(`Control socket: ${sa.path} (from the previous arbiter)`);
    return new ControlServer(sa.path, fd, target, log);
  } catch (err) {
    log.warn(`No control socket: ${CONTROL_FD_ENV}=${fd} ${(err as Error).message}`);
    return undefined;
  }
}

function identity(file: string): { dev: number; ino: number } | undefined {
  try {
    const st = fs.lstatSync(file);
    return st.isSocket() ? { dev: st.dev, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}
