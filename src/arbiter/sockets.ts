// The arbiter's sockets: bound (or adopted from systemd or a previous arbiter) before any worker,
// with the --reuse-port slots, and closed exactly once.
import type { Logger } from "../log/logger.ts";
import { inheritedBinds } from "../sockets/inherited.ts";
import { closeListeners, createListeners, type Listener } from "../sockets/listeners.ts";
import { ReusePortSlots, warnUnlessMigrating } from "../sockets/slots.ts";
import type { Config } from "../types.ts";
import * as libc from "../sockets/libc.ts";

export class ArbiterSockets {
  listeners: Listener[] = [];
  slots?: ReusePortSlots;
  #closed = false;
  /** Each TCP listener's address as the kernel gave it, to listen there again (repair()). */
  #names: (Uint8Array | null)[] = [];
  #backlog = 0;

  /** Sockets systemd (LISTEN_FDS) or a previous arbiter (USR2) handed us replace --bind. */
  async open(cfg: Config, log: Logger): Promise<void> {
    const inherited = inheritedBinds();
    if (inherited) {
      const n = inherited.specs.length;
      log.info(`Using ${n} socket${n === 1 ? "" : "s"} from ${inherited.from === "systemd" ? "systemd socket activation" : "the previous arbiter"}`);
    }
    this.listeners = await createListeners(inherited?.specs ?? cfg.bind, { backlog: cfg.backlog, umask: cfg.umask, log, reusePort: cfg.reusePort });
    this.#names = this.listeners.map((l) => (l.kind === "tcp" ? libc.getsockname(l.fd) : null));
    this.#backlog = cfg.backlog;
    const slots = new ReusePortSlots(this.listeners, cfg.backlog);
    if (cfg.reusePort && slots.enabled) {
      this.slots = slots;
      warnUnlessMigrating(log);
    } else {
      slots.closeAll(); // slots a previous arbiter handed over (USR2) that this config does not use
    }
  }

  /**
   * A worker holds the listening sockets too, and shutdown() on any copy stops the one socket
   * they all share: new clients are refused. Such a TCP listener is bound and made to listen
   * again, on the same descriptor (so every copy listens again); returns how many were. The
   * workers' event loops may have dropped it meanwhile: the caller replaces them.
   */
  repair(log: Logger): number {
    if (this.#closed) return 0;
    let repaired = 0;
    this.listeners.forEach((l, i) => {
      const name = this.#names[i];
      if (!name || libc.isListeningStream(l.fd)) return;
      try {
        // Still bound (a shutdown that found connections queued) or not: bind only if not.
        const now = libc.getsockname(l.fd);
        if (now.length !== name.length || now.some((b, j) => b !== name[j])) libc.bind(l.fd, name);
        libc.listen(l.fd, this.#backlog);
        log.error(`Listener ${l.address} had stopped listening (a worker shut it down?): listening again, replacing the workers`);
        repaired++;
      } catch (err) {
        log.error(`Listener ${l.address} has stopped listening and cannot listen again: ${(err as Error).message}`);
      }
    });
    return repaired;
  }

  /** Once: a second close could hit a number the kernel has given to another descriptor. */
  close(unlink: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.slots?.closeAll();
    closeListeners(this.listeners, unlink);
  }
}
