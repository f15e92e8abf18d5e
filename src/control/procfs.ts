// What Linux's /proc tells the arbiter about its workers and sockets. Every reader returns null
// where the kernel does not say (another OS, a process that just exited), never throws.
// /proc/<pid>/ and /proc/net/ are the kernel's own files: a worker cannot replace them.
import fs from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on every Linux port). */
const USER_HZ = 100;

/** Resident memory in bytes. */
export function rssBytes(pid: number): number | null {
  try {
    const kb = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m);
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) the process has used. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / USER_HZ; // utime, stime (fields 14 and 15)
  } catch {
    return null;
  }
}

/** CPU % of each process between two calls (100 = one core busy). */
export class CpuSampler {
  readonly #last = new Map<number, { cpu: number; at: number; before?: number; window: number }>();

  /** Since the previous call for `pid`; the first time, over its whole life (`uptimeS`). */
  percent(pid: number, uptimeS: number, now = performance.now()): number | null {
    const cpu = cpuSeconds(pid);
    if (cpu === null) return null;
    const prev = this.#last.get(pid);
    if (prev && now - prev.at < 200) return this.#pct(prev.cpu - (prev.before ?? 0), prev.window);
    this.#last.set(pid, { cpu, at: now, before: prev?.cpu, window: prev ? (now - prev.at) / 1000 : uptimeS });
    return prev ? this.#pct(cpu - prev.cpu, (now - prev.at) / 1000) : this.#pct(cpu, uptimeS);
  }

  #pct(cpu: number, seconds: number): number | null {
    return seconds > 0 ? Math.round((cpu / seconds) * 1000) / 10 : null;
  }

  /** Forgets processes not in `pids` (exited workers). */
  keep(pids: Set<number>): void {
    for (const pid of this.#last.keys()) if (!pids.has(pid)) this.#last.delete(pid);
  }
}

/** The socket inode behind one of our fds, from /proc/self/fd. */
function socketInode(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`).match(/^socket:\[(\d+)\]$/)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * Connections the kernel has completed but nobody has accepted yet, per listening TCP fd: for a
 * socket in LISTEN state, /proc/net/tcp's rx_queue is the accept queue's length. Unix sockets
 * are not reported there: null.
 */
export function acceptQueues(fds: number[]): (number | null)[] {
  const inodes = fds.map(socketInode);
  const byInode = new Map<string, number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = fs.readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local rem st tx_queue:rx_queue tr:when retrnsmt uid timeout inode …
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue; // 0A: TCP_LISTEN
      byInode.set(f[9], parseInt(f[4].split(":")[1], 16));
    }
  }
  return inodes.map((i) => (i === null ? null : byInode.get(i) ?? null));
}

/** Each listener's accept queue; with --reuse-port, the sum over its slot sockets (slot × listener). */
export function listenerQueues(fds: readonly number[], slotFds: readonly (readonly number[])[] = []): (number | null)[] {
  const perListener = fds.map((fd, j) => [...new Set([fd, ...slotFds.map((slot) => slot[j])])]);
  const all = perListener.flat(), queue = acceptQueues(all);
  const byFd = new Map(all.map((fd, i) => [fd, queue[i]]));
  return perListener.map((group) => group.reduce<number | null>((sum, fd) => (byFd.get(fd) == null ? sum : (sum ?? 0) + byFd.get(fd)!), null));
}
