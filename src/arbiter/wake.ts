// Wakes the arbiter's loop the moment a worker has news (it serves, it asks to be recycled),
// instead of at the next tick. A unix socket pair: the arbiter watches one end; every worker
// inherits the other and writes a byte. A worker running as --user cannot signal a root
// arbiter, but it can write to a descriptor it was given. What it writes is never read as data,
// and a worker that writes without pause wakes the loop at most once per MIN_GAP_MS.
import { runtime } from "../runtime/index.ts";
import * as libc from "../sockets/libc.ts";

const MIN_GAP_MS = 10;

export class WakeChannel {
  #last = 0;
  #pending?: ReturnType<typeof setTimeout>;
  #unwatch?: () => void;
  readonly #watching: ReturnType<typeof setTimeout>;

  private constructor(readonly readFd: number, readonly writeFd: number, onWake: () => void) {
    // Watching starts when the loop next comes round, after the first workers are spawned (on
    // Deno it sets up node:net); a byte written meanwhile waits in the socket.
    this.#watching = setTimeout(() => {
      try {
        this.#unwatch = runtime.watchFd(readFd, () => this.#fire(onWake));
      } catch {
        // no channel after all: the loop's tick still finds the news
      }
    }, 0);
  }

  /** The channel; throws where it cannot be made (then the loop's tick still finds the news). */
  static open(onWake: () => void): WakeChannel {
    const [r, w] = libc.socketpair();
    return new WakeChannel(r, w, onWake);
  }

  close(): void {
    clearTimeout(this.#pending);
    clearTimeout(this.#watching);
    this.#unwatch?.();
    libc.close(this.writeFd);
  }

  #fire(onWake: () => void): void {
    if (this.#pending) return;
    const wait = this.#last + MIN_GAP_MS - Date.now();
    const go = () => {
      this.#pending = undefined;
      this.#last = Date.now();
      onWake();
    };
    if (wait <= 0) go();
    else this.#pending = setTimeout(go, wait);
  }
}
