// The arbiter's signal queue: handlers only enqueue and wake the loop (gunicorn's SIG_QUEUE).

export const SIGNALS = ["SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;
export type Sig = (typeof SIGNALS)[number];

export class SignalQueue {
  readonly #queue: Sig[] = [];
  #wake: () => void = () => {};

  constructor(readonly onSignal: (signal: string, handler: () => void) => void) {}

  /** Starts listening; a signal listener alone does not keep the process alive, sleep() does. */
  install(): void {
    for (const sig of SIGNALS) this.onSignal(sig, () => this.push(sig));
  }

  /** A signal is waiting to be handled. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  push(sig: Sig): void {
    if (this.#queue.length < 5) this.#queue.push(sig); // gunicorn drops signals past 5 queued
    this.wake();
  }

  shift(): Sig | undefined {
    return this.#queue.shift();
  }

  /** Waits up to ms, or until wake() (a signal, a worker's exit); not at all if a signal is waiting. */
  sleep(ms: number): Promise<void> {
    // A signal that came while the loop was busy (its wake() found nothing asleep) goes first.
    if (this.#queue.length) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake();
  }
}
