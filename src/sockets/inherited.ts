// Listeners handed to us rather than bound by us: systemd socket activation (LISTEN_FDS) and a
// previous arbiter's sockets on USR2 (GUVNOR_FD, as gunicorn's GUNICORN_FD).
import process from "node:process";
import { FD_ENV } from "../handoff.ts";

/** `fd://N` bind specs for the inherited sockets, or null; the variables are removed either way. */
export function inheritedBinds(env: Record<string, string | undefined> = process.env): { specs: string[]; from: "systemd" | "upgrade" } | null {
  const upgrade = env[FD_ENV];
  delete env[FD_ENV];
  const listenPid = env.LISTEN_PID, listenFds = env.LISTEN_FDS;
  // sd_listen_fds(3): only ours when LISTEN_PID names this process; never passed to children.
  for (const k of ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]) delete env[k];
  if (upgrade) return { specs: upgrade.split(",").filter(Boolean).map((fd) => `fd://${fd}`), from: "upgrade" };
  if (listenFds && Number(listenPid) === process.pid) {
    const n = Number(listenFds);
    return { specs: Array.from({ length: n }, (_, i) => `fd://${3 + i}`), from: "systemd" };
  }
  return null;
}
