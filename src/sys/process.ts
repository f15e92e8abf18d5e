// Process-level calls through libc: process group, parent-death signal, signal dispositions.
import { check, libc } from "./ffi.ts";

const PR_SET_PDEATHSIG = 1;

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
