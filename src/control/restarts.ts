// Why workers were replaced, counted by cause for /metrics and `guvnor ctl stats`.
import type { ExitStatus } from "../runtime/types.ts";
import { RESTART_CAUSES, type RestartCause } from "./metrics.ts";

/** What the count needs to know of a worker that exited. */
export interface ExitedWorker {
  readonly pid: number;
  readonly generation: number;
  readonly retiring: boolean;
  /** The last signal the arbiter sent it. */
  readonly sent?: string;
}

export class RestartCounts {
  readonly counts = Object.fromEntries(RESTART_CAUSES.map((c) => [c, 0])) as Record<RestartCause, number>;
  /** Workers being replaced for a known reason, until they exit. */
  readonly #causes = new Map<number, RestartCause>();

  /** A worker is being replaced; `why` as the arbiter logs it. */
  recycling(pid: number, why: string): void {
    this.#causes.set(pid, /max-requests/.test(why) ? "max_requests" : /max-worker-memory/.test(why) ? "max_worker_memory" : "requested");
  }

  /** `guvnor ctl kill`. */
  killed(pid: number): void {
    this.#causes.set(pid, "ctl");
  }

  /** Counts an exit; `now` is the arbiter's generation and whether it is stopping (then nothing is a restart). */
  exited(w: ExitedWorker, status: ExitStatus, now: { generation: number; stopping: boolean }): void {
    const cause = this.#causes.get(w.pid) ?? causeOf(w, status, now);
    this.#causes.delete(w.pid);
    if (cause) this.counts[cause]++;
  }
}

function causeOf(w: ExitedWorker, status: ExitStatus, now: { generation: number; stopping: boolean }): RestartCause | undefined {
  if (now.stopping) return undefined;
  if (w.sent === "SIGABRT") return "timeout"; // the heartbeat timeout
  if (w.generation !== now.generation) return "reload"; // replaced by a HUP, or a new generation given up
  if (w.sent === "SIGKILL") return "timeout"; // the boot timeout, or SIGABRT that did not end it
  if (w.retiring && w.sent === "SIGTERM") return undefined; // fewer workers wanted: not a restart
  return status.signal ? "signal" : "crash";
}
