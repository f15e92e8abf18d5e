// The client side of the control protocol: one connection, requests answered in order.
import net from "node:net";
import { encodeLine, lineSplitter, PROTOCOL_VERSION, type Reply } from "./protocol.ts";

/** The arbiter cannot be reached at the socket path (exit 2 in `guvnor ctl`). */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

const WHY: Record<string, string> = {
  ENOENT: "no such socket (is guvnor running in that directory? see -s)",
  ECONNREFUSED: "nothing is listening (guvnor is not running, or exited without removing it)",
  EACCES: "permission denied (the socket is the arbiter's user's only)",
  ENOTSOCK: "not a socket",
};

export class ControlClient {
  readonly #socket: net.Socket;
  readonly #waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  #closed?: Error;
  /** Resolves when the arbiter closes the connection (it exits). */
  readonly closed: Promise<void>;

  private constructor(readonly path: string, socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    const feed = lineSplitter((line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line);
      } catch {
        return this.#fail(new UnreachableError(`${path}: the arbiter answered something that is not JSON`));
      }
      this.#waiting.shift()?.resolve(reply);
    }, () => this.#fail(new UnreachableError(`${path}: the arbiter's answer is too long`)));
    socket.on("data", (d) => feed(String(d)));
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#fail(new UnreachableError(`${path}: the arbiter closed the connection`));
        resolve();
      });
    });
    socket.on("error", (err) => this.#fail(new UnreachableError(`${path}: ${(err as { code?: string }).code ?? err.message}`)));
  }

  /** Connects, or throws an UnreachableError naming the path and why. */
  static connect(path: string, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      const t = setTimeout(() => {
        s.destroy();
        reject(new UnreachableError(`${path}: the arbiter did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(t);
        s.removeAllListeners("error");
        resolve(new ControlClient(path, s));
      });
      s.once("error", (err) => {
        clearTimeout(t);
        const code = (err as { code?: string }).code ?? "";
        reject(new UnreachableError(`${path}: ${WHY[code] ?? err.message}`));
      });
    });
  }

  /** Sends one request; resolves to its reply, or rejects with an UnreachableError. */
  request(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Reply> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new UnreachableError(`${this.path}: no answer to ${cmd} within ${timeoutMs / 1000} s`)), timeoutMs);
      this.#waiting.push({
        resolve: (r) => (clearTimeout(t), resolve(r)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.#socket.write(encodeLine({ v: PROTOCOL_VERSION, cmd, args }));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }
}
