// Starting a worker as --user/--group. The runtime must never run as root (it reads bunfig.toml,
// deno.json and .env at start), so the worker is exec'd as the user: through util-linux's
// setpriv where the system has it, which also gives the user its supplementary groups
// (initgroups, as gunicorn does: a group that may read a TLS key, say); else by the runtime's own
// spawn uid/gid options, which leave the group list empty.
import fs from "node:fs";

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"].find((p) => {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

export interface Ids {
  uid: number;
  gid: number;
  /** The user has an /etc/passwd entry, so its groups can be looked up. */
  named?: boolean;
}

/** How to start `cmd` as `ids`: a command that drops on its own, or uid/gid for the spawn. */
export function startAs(cmd: string[], ids: Ids): { cmd: string[]; uid?: number; gid?: number } {
  if (!SETPRIV) return { cmd, uid: ids.uid, gid: ids.gid };
  const groups = ids.named ? "--init-groups" : "--clear-groups";
  return { cmd: [SETPRIV, `--reuid=${ids.uid}`, `--regid=${ids.gid}`, groups, "--", ...cmd] };
}
