// The worker's side of the arbiter's wake-up channel (arbiter/wake.ts): one byte when it has
// news the arbiter should act on now. node:net writes to an inherited socket on both runtimes.
import net from "node:net";

export class ArbiterWake {
  #socket?: net.Socket;

  constructor(readonly fd: number) {}

  /** Best effort: an arbiter that is gone or a full buffer change nothing; the tick still finds the news. */
  wake(): void {
    try {
      this.#socket ??= new net.Socket({ fd: this.fd, readable: false, writable: true } as net.SocketConstructorOpts).on("error", () => {}).unref();
      this.#socket.write("!");
    } catch {
      // no channel: the arbiter's tick reads the scoreboard anyway
    }
  }
}
