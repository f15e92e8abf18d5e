// The arbiter's sockets: bound (or adopted from systemd or a previous arbiter) before any worker,
// with the --reuse-port slots, and closed exactly once.
import type { Logger } from "../log/logger.ts";
import { inheritedBinds } from "../sockets/inherited.ts";
import { closeListeners, createListeners, type Listener } from "../sockets/listeners.ts";
import { decodeSockaddr } from "../sockets/address.ts";
import { ReusePortSlots, warnUnlessMigrating } from "../sockets/slots.ts";
import type { Config } from "../types.ts";
import * as libc from "../sockets/libc.ts";

export class ArbiterSockets {
  listeners: Listener[] = [];
  slots?: ReusePortSlots;
  #closed = false;
  /** Each listener's address as a bind spec, to listen there again (repair()); null if not ours to remake. */
  #specs: (string | null)[] = [];
  #backlog = 0;
  #umask = 0;

  /** Sockets systemd (LISTEN_FDS) or a previous arbiter (USR2) handed us replace --bind. */
  async open(cfg: Config, log: Logger): Promise<void> {
    const inherited = inheritedBinds();
    if (inherited) {
      const n = inherited.specs.length;
      log.info(`Using ${n} socket${n === 1 ? "" : "s"} from ${inherited.from === "systemd" ? "systemd socket activation" : "the previous arbiter"}`);
    }
    this.listeners = await createListeners(inherited?.specs ?? cfg.bind, { backlog: cfg.backlog, umask: cfg.umask, log, reusePort: cfg.reusePort });
    this.#specs = this.listeners.map(specOf);
    this.#backlog = cfg.backlog;
    this.#umask = cfg.umask;
    const slots = new ReusePortSlots(this.listeners, cfg.backlog);
    if (cfg.reusePort && slots.enabled) {
      this.slots = slots;
      warnUnlessMigrating(log);
    } else {
      slots.closeAll(); // slots a previous arbiter handed over (USR2) that this config does not use
    }
  }

  /**
   * Workers hold the listening sockets too, and a worker can break the one socket they all share
   * (shutdown(), or options that every accepted connection inherits): new clients are refused or
   * reset. A listener that no longer listens is replaced by a fresh socket at the same address,
   * under the same descriptor number (the broken one no longer holds the address); returns how
   * many were, so the caller replaces the workers, which still hold the broken one.
   */
  async repair(log: Logger): Promise<number> {
    if (this.#closed) return 0;
    let repaired = 0;
    for (const [i, l] of this.listeners.entries()) {
      if (listening(l)) continue;
      const spec = this.#specs[i];
      if (!spec) {
        log.error(`Listener ${l.address} has stopped listening, and guvnor did not make it: restart guvnor`);
        continue;
      }
      try {
        const [fresh] = await createListeners([spec], { backlog: this.#backlog, umask: this.#umask, log, retries: 1, reusePort: l.reusePort });
        libc.dup2(fresh.fd, l.fd);
        libc.close(fresh.fd);
        log.error(`Listener ${l.address} had stopped listening (a worker shut it down?): a new socket listens there, replacing the workers`);
        repaired++;
      } catch (err) {
        log.error(`Listener ${l.address} has stopped listening and cannot be replaced: ${(err as Error).message}`);
      }
    }
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

/** The bind spec that makes `l` again: its address as the kernel has it; a unix path only if we made it. */
function specOf(l: Listener): string | null {
  if (l.kind === "unix") return l.ownedPath ? `unix:${l.ownedPath}` : null;
  const a = decodeSockaddr(libc.getsockname(l.fd));
  return a.host!.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Whether `l` still takes connections. A TCP socket that was shut down leaves the listening state;
 * a unix one stays in it and refuses every connection, which only a connection attempt shows (a
 * worker accepts it and sees it close at once).
 */
function listening(l: Listener): boolean {
  if (!libc.isListeningStream(l.fd)) return false;
  if (l.kind !== "unix") return true;
  const path = l.address.slice("unix:".length);
  return path.startsWith("@") || libc.unixSocketAnswers(path);
}
