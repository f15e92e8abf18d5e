// Running out of file descriptors: a flood of idle clients must not take a worker down.
// Both runtimes already raise their soft RLIMIT_NOFILE to the hard limit at start (checked on
// Bun 1.4.5 and Deno 2.9.6); we do it again so that holds whatever starts the worker. Past the
// limit, accept() fails with EMFILE/ENFILE, and each path reacts differently:
//   Bun (native and node:net): keeps the connection queued and retries on its own;
//   Deno.serve: its accept loop ends with "Too many open files" (we adopt the socket again);
//   Deno node:http listen({fd}): its accept loop stops for good, silently (we stop accepting
//   ourselves before the limit: see connectionCap()).
import { runtime } from "../runtime/index.ts";
import type { Logger } from "../log/logger.ts";
import { raiseFdLimit } from "../sys/process.ts";

/** Raises the soft fd limit to the hard one; returns the soft limit now in force. */
export function raiseLimit(log: Logger): number {
  try {
    const { soft, hard, was } = raiseFdLimit();
    if (soft !== was) log.debug(`Open file limit raised from ${was} to ${hard}`);
    return soft;
  } catch (err) {
    log.debug(`Open file limit unchanged: ${(err as Error).message}`);
    return Infinity;
  }
}

/**
 * How many client connections this process may hold before it should stop accepting: the limit,
 * less what is open now (runtime, logs, listeners) and a reserve for what the app opens itself
 * (files, outgoing connections). Infinity when the limit is unknown or ample.
 */
export function connectionCap(softLimit: number): number {
  if (!Number.isFinite(softLimit)) return Infinity;
  let open = 0;
  try {
    open = runtime.readDirNames("/proc/self/fd").length;
  } catch {
    return Infinity;
  }
  const reserve = Math.max(8, Math.floor(softLimit / 16));
  return Math.max(1, softLimit - open - reserve);
}

/** True for the errors a full descriptor table gives (EMFILE, ENFILE), by code or message. */
export function isFdExhaustion(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === "EMFILE" || e?.code === "ENFILE" || /too many open files/i.test(e?.message ?? "");
}

/** A logger call that writes at most one line per second; the rest are counted into the next. */
export function oncePerSecond(write: (line: string) => void): (line: string) => void {
  let last = 0, skipped = 0;
  return (line) => {
    const now = Date.now();
    if (now - last < 1000) {
      skipped++;
      return;
    }
    write(skipped ? `${line} (and ${skipped} more in the last second)` : line);
    last = now;
    skipped = 0;
  };
}
