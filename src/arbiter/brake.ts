// Crash-loop brake: a worker that dies on its own soon after it started delays the next spawn,
// doubling from 100 ms up to 10 s, instead of a busy restart loop.
import type { Logger } from "../log/logger.ts";
import type { ExitStatus } from "../runtime/index.ts";
import type { WorkerRecord } from "./spawner.ts";

const EARLY_MS = 5000, FIRST_MS = 100, MAX_MS = 10_000;

export class CrashBrake {
  #failures = 0;
  /** No spawn before this time (ms since the epoch). */
  until = 0;

  constructor(readonly log: Logger) {}

  record(rec: WorkerRecord, status: ExitStatus): void {
    const ours = status.signal !== null && rec.sent === status.signal;
    if (status.code === 0 || ours || rec.retiring || rec.recycling) return;
    if (Date.now() - rec.spawnedAt >= EARLY_MS) {
      this.#failures = 0;
      return;
    }
    const delay = Math.min(MAX_MS, FIRST_MS * 2 ** this.#failures++);
    this.until = Date.now() + delay;
    if (delay >= 1000) this.log.warn(`Workers are dying right after they start; next spawn in ${delay / 1000} s`);
  }
}
