// sd_notify(3): tells systemd (Type=notify) when we are ready, reloading, stopping; and the watchdog.
import process from "node:process";
import { sendUnixDatagram } from "../sockets/libc.ts";
import type { Logger } from "../log/logger.ts";

export class SystemdNotifier {
  readonly #socket = process.env.NOTIFY_SOCKET;
  #watchdog?: ReturnType<typeof setInterval>;

  constructor(readonly log: Logger) {
    delete process.env.NOTIFY_SOCKET; // for us, not for the workers
  }

  /** The socket, to hand to a new arbiter (USR2) so it can take over as MAINPID. */
  get socketPath(): string | undefined {
    return this.#socket;
  }

  send(message: string): void {
    if (!this.#socket) return;
    try {
      sendUnixDatagram(this.#socket, message);
    } catch (err) {
      this.log.debug(`sd_notify(${message.split("\n")[0]}) failed: ${(err as Error).message}`);
    }
  }

  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  reloading(): void {
    // systemd 253+ (Type=notify-reload) wants the monotonic time with RELOADING=1.
    const usec = process.hrtime.bigint() / 1000n;
    this.send(`RELOADING=1\nMONOTONIC_USEC=${usec}`);
  }

  stopping(): void {
    this.send("STOPPING=1");
  }

  /** WATCHDOG=1 every half WATCHDOG_USEC, when systemd asks for it (WatchdogSec=). */
  startWatchdog(): void {
    const usec = Number(process.env.WATCHDOG_USEC), pid = process.env.WATCHDOG_PID;
    delete process.env.WATCHDOG_USEC;
    delete process.env.WATCHDOG_PID;
    if (!this.#socket || !usec || (pid && Number(pid) !== process.pid)) return;
    this.#watchdog = setInterval(() => this.send("WATCHDOG=1"), Math.max(100, usec / 2000));
    (this.#watchdog as { unref?: () => void }).unref?.();
  }

  close(): void {
    clearInterval(this.#watchdog);
  }
}
