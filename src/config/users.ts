// --user / --group: names or numbers, resolved from /etc/passwd and /etc/group (no NSS: containers
// and systemd units name local accounts).
import fs from "node:fs";
import { ConfigError } from "../errors.ts";

interface Entry {
  name: string;
  id: number;
  gid: number;
}

function read(file: string): Entry[] {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
      const f = l.split(":");
      return { name: f[0], id: Number(f[2]), gid: Number(f[3]) };
    });
  } catch {
    return [];
  }
}

/** uid and gid for `user` and `group` ("" = unchanged); the group defaults to the user's own. */
export function resolveIds(user: string, group: string): { uid: number; gid: number; named: boolean } | null {
  if (!user && !group) return null;
  const users = read("/etc/passwd"), groups = read("/etc/group");
  let uid = process.getuid?.() ?? 0, gid = process.getgid?.() ?? 0;
  let named = users.some((e) => e.id === uid);
  if (user) {
    const u = /^\d+$/.test(user) ? users.find((e) => e.id === Number(user)) ?? { id: Number(user), gid: -1 } : users.find((e) => e.name === user);
    if (!u) throw new ConfigError(`--user: no such user "${user}" in /etc/passwd`);
    // A bare uid has no group of its own: never leave the workers in ours (root's, often).
    if (u.gid < 0 && !group) throw new ConfigError(`--user ${user}: no such uid in /etc/passwd, so it has no group: give --group too`);
    uid = u.id;
    gid = u.gid;
    named = users.some((e) => e.id === uid);
  }
  if (group) {
    const g = /^\d+$/.test(group) ? { id: Number(group) } : groups.find((e) => e.name === group);
    if (!g) throw new ConfigError(`--group: no such group "${group}" in /etc/group`);
    gid = g.id;
  }
  return { uid, gid, named };
}
