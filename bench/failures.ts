// What a client sees while something goes wrong on the server, for the bench: a worker stuck in a
// handler, a worker SIGKILLed, the arbiter told TTOU or HUP, each under load. Counts, not speed.
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { get200 } from "./procs.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
const HERE = fileURLToPath(new URL(".", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Failed (or late) requests out of all. */
export interface Tally {
  failed: number;
  of: number;
}

/**
 * One process spins in a handler for 3 s; a second later 20 new connections arrive at once. Counts
 * those not answered within 1 s: the ones left waiting for the stuck process.
 */
export async function stuckWorker(port: number): Promise<Tally> {
  const spin = get200(port, "/spin?ms=3000");
  await sleep(1000);
  const late = await Promise.all(Array.from({ length: 20 }, async () => {
    const t0 = performance.now();
    const ok = await get200(port, "/", 5000);
    return !ok || performance.now() - t0 > 1000;
  }));
  await spin;
  return { failed: late.filter(Boolean).length, of: late.length };
}

/** A connection-per-request load of 16 clients for `seconds`, with `act` done after 1 s. */
export async function underLoad(port: number, act: () => void, seconds = 3): Promise<Tally> {
  const load = Bun.spawn([process.execPath, path.join(HERE, "connload.ts"), String(port), "16", String(seconds)], { stdout: "pipe" });
  await sleep(1000);
  act();
  const r = JSON.parse((await new Response(load.stdout).text()) || '{"ok":0,"failed":-1}');
  return { failed: r.failed, of: r.ok + r.failed };
}

/** Sends `signal` to `pid`, if it is still there. */
export function signal(pid: number, sig: string): void {
  try {
    process.kill(pid, sig);
  } catch { /* gone */ }
}
