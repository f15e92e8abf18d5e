// The arbiter's sockets: bound (or adopted from systemd or a previous arbiter) before any worker,
// with the --reuse-port slots, and closed exactly once.
import type { Logger } from "../log/logger.ts";
import { inheritedBinds } from "../sockets/inherited.ts";
import { closeListeners, createListeners, type Listener } from "../sockets/listeners.ts";
import { ReusePortSlots, warnUnlessMigrating } from "../sockets/slots.ts";
import type { Config } from "../types.ts";

export class ArbiterSockets {
  listeners: Listener[] = [];
  slots?: ReusePortSlots;
  #closed = false;

  /** Sockets systemd (LISTEN_FDS) or a previous arbiter (USR2) handed us replace --bind. */
  async open(cfg: Config, log: Logger): Promise<void> {
    const inherited = inheritedBinds();
    if (inherited) {
      const n = inherited.specs.length;
      log.info(`Using ${n} socket${n === 1 ? "" : "s"} from ${inherited.from === "systemd" ? "systemd socket activation" : "the previous arbiter"}`);
    }
    this.listeners = await createListeners(inherited?.specs ?? cfg.bind, { backlog: cfg.backlog, umask: cfg.umask, log, reusePort: cfg.reusePort });
    const slots = new ReusePortSlots(this.listeners, cfg.backlog);
    if (cfg.reusePort && slots.enabled) {
      this.slots = slots;
      warnUnlessMigrating(log);
    } else {
      slots.closeAll(); // slots a previous arbiter handed over (USR2) that this config does not use
    }
  }

  /** Once: a second close could hit a number the kernel has given to another descriptor. */
  close(unlink: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.slots?.closeAll();
    closeListeners(this.listeners, unlink);
  }
}
