// Process-level calls through libc: process group, parent-death signal, signal dispositions, fd limit.
import { check, libc } from "./ffi.ts";

const PR_SET_PDEATHSIG = 1, RLIMIT_NOFILE = 7;

/**
 * Makes this process the leader of a new process group, so whatever it forks can be stopped
 * with it (a signal to the negative pid). A process that calls setsid() itself escapes.
 */
export function becomeProcessGroupLeader(): void {
  check("setpgid", libc.setpgid(0, 0));
}

/** Gives `signum` its default action (SIG_DFL) again, whatever handler the runtime installed. */
export function resetSignalToDefault(signum: number): void {
  libc.signal(signum, 0);
}

/** Linux: have the kernel send `signal` to this process when its parent dies. */
export function setParentDeathSignal(signal: number): void {
  check("prctl(PR_SET_PDEATHSIG)", libc.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0));
}

/**
 * Raises the soft limit on open files to the hard limit, as Go and the JVM do at start: the
 * default soft limit (often 1024) is what a burst of idle clients exhausts first. Returns both.
 */
export function raiseFdLimit(): { soft: number; hard: number; was: number } {
  const lim = new BigUint64Array(2); // struct rlimit { rlim_cur, rlim_max }
  check("getrlimit(RLIMIT_NOFILE)", libc.getrlimit(RLIMIT_NOFILE, lim));
  const was = lim[0];
  if (lim[0] < lim[1]) {
    lim[0] = lim[1];
    check("setrlimit(RLIMIT_NOFILE)", libc.setrlimit(RLIMIT_NOFILE, lim));
  }
  const n = (v: bigint) => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v)); // RLIM_INFINITY
  return { soft: n(lim[0]), hard: n(lim[1]), was: n(was) };
}
