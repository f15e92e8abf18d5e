// Starting a worker as --user/--group. The runtime must never run as root (it reads bunfig.toml,
// deno.json and .env at start), so the worker is exec'd as the user: through util-linux's
// setpriv where the system has it, which also gives the user its supplementary groups
// (initgroups, as gunicorn does: a group that may read a TLS key, say); else by the runtime's own
// spawn uid/gid options, which leave the group list empty. Either way in a session of its own.
import fs from "node:fs";

const tool = (name: string) => ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"].map((d) => d + name).find((p) => {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
const SETPRIV = tool("setpriv"), SETSID = tool("setsid");

export interface Ids {
  uid: number;
  gid: number;
  /** The user has an /etc/passwd entry, so its groups can be looked up. */
  named?: boolean;
}

/** How to start `cmd` as `ids`: a command that drops on its own, or uid/gid for the spawn. */
export function startAs(cmd: string[], ids: Ids): { cmd: string[]; uid?: number; gid?: number } {
  // A new session first (setsid(1) execs in place: the pid stays the worker's), so that not even
  // code the runtime runs before guvnor's own (a bunfig.toml preload) has the operator's
  // terminal as its controlling terminal, to push keystrokes into a root shell (TIOCSTI).
  const session = SETSID ? [SETSID] : [];
  if (!SETPRIV) return { cmd: [...session, ...cmd], uid: ids.uid, gid: ids.gid };
  const groups = ids.named ? "--init-groups" : "--clear-groups";
  return { cmd: [...session, SETPRIV, `--reuid=${ids.uid}`, `--regid=${ids.gid}`, groups, "--", ...cmd] };
}
