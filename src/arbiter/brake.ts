// Crash-loop brake: a worker that dies on its own soon after it started delays the next spawn,
// doubling from 100 ms up to 10 s, instead of a busy restart loop.
import type { Logger } from "../log/logger.ts";
import type { ExitStatus } from "../runtime/index.ts";
import type { WorkerRecord } from "./workers.ts";

const EARLY_MS = 5000, FIRST_MS = 100, MAX_MS = 10_000;

export class CrashBrake {
  #failures = 0;
  /** No spawn before this time (ms since the epoch). */
  until = 0;

  constructor(readonly log: Logger, readonly now: () => number = Date.now) {}

  /** A worker died: on its own and early, or never serving, it delays the next spawn (exit code 0 included). */
  record(rec: WorkerRecord, _status: ExitStatus): void {
    // A worker that never served, killed for it, failed to start however long it took.
    if (rec.bootTimedOut) return this.#delay("Workers do not start serving within --boot-timeout");
    if (rec.sent !== undefined || rec.retiring || rec.recycling) return;
    if (this.now() - rec.spawnedAt >= EARLY_MS) {
      this.#failures = 0;
      return;
    }
    this.#delay("Workers are dying right after they start");
  }

  /** A worker could not even be started (out of descriptors, memory, processes): try again later. */
  failedSpawn(why: string): void {
    this.log.error(`Can't start a worker: ${why}`);
    this.#delay("Can't start workers");
  }

  #delay(what: string): void {
    const delay = Math.min(MAX_MS, FIRST_MS * 2 ** this.#failures++);
    this.until = this.now() + delay;
    if (delay >= 1000) this.log.warn(`${what}; next spawn in ${delay / 1000} s`);
  }
}
