// Process-level calls through libc: session, parent-death signal, signal dispositions, fd limit,
// the standard streams.
import { check, errno, libc } from "./ffi.ts";

const PR_SET_PDEATHSIG = 1, RLIMIT_NOFILE = 7;

/**
 * Starts a new session with no controlling terminal, led by this process: an operator's terminal
 * cannot be driven from here (TIOCSTI, /dev/tty), and what this process forks is in its process
 * group, so it can be stopped with it (a signal to the negative pid). A child that calls setsid()
 * or setpgid() itself escapes that group.
 */
export function startSession(): void {
  // EPERM: already a group leader (started so by setsid(1)): nothing to do.
  const r = libc.setsid();
  if (r < 0 && errno() !== 1) check("setsid", r);
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

/** True when `fd` is a terminal (node:tty's isatty, without loading node:tty). */
export function isTerminal(fd: number): boolean {
  return libc.isatty(fd) === 1;
}

/**
 * Makes `fd` (a terminal) write-only, so the processes that inherit it can print to the operator's
 * terminal but never read what is typed there (a password at a sudo prompt): a new, write-only
 * open of the same terminal takes its place.
 */
export function makeWriteOnly(fd: number): void {
  const O_WRONLY = 1, O_NOCTTY = 0o400, O_CLOEXEC = 0o2000000;
  const path = new TextEncoder().encode(`/proc/self/fd/${fd}\0`);
  const w = check(`open(/proc/self/fd/${fd})`, libc.open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC, 0));
  try {
    check("dup2", libc.dup2(w, fd));
  } finally {
    libc.close(w);
  }
}
