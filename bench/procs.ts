// /proc readings for the bench: a process tree, its memory and CPU time, and the first 200.
import fs from "node:fs";
import net from "node:net";

/** `pids` and every descendant, by scanning /proc/<pid>/stat parent links. */
export function tree(pids: number[]): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* gone */ }
  }
  const out = new Set(pids);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parent) if (out.has(ppid) && !out.has(pid)) { out.add(pid); grew = true; }
  }
  return [...out].filter((p) => parent.has(p));
}

/** Resident memory of one process, MiB (0 when gone). */
export function rssMiB(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Proportional set size of one process, MiB: shared pages split among the processes that map them (0 when gone). */
export function pssMiB(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+)/m)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** User + system CPU time of one process, in clock ticks (1/100 s). */
export function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime
  } catch {
    return 0;
  }
}

/** One GET over a fresh connection; true on a 200. */
export function get200(port: number, path = "/", timeoutMs = 10_000): Promise<boolean> {
  return new Promise((resolve) => {
    let head = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`));
    s.setTimeout(timeoutMs, () => s.destroy());
    s.on("data", (d) => (head += d));
    s.on("error", () => {});
    s.on("close", () => resolve(head.startsWith("HTTP/1.1 200")));
  });
}

/** ms from `t0` until the server answers 200 (refused connections are retried every 5 ms). */
export async function untilFirst200(port: number, t0: number, limitMs = 30_000): Promise<number> {
  while (performance.now() - t0 < limitMs) {
    if (await get200(port)) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no 200 on port ${port} within ${limitMs} ms`);
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
