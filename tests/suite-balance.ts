// Balancing on the default path (one shared socket, native adoption): a keep-alive pool that
// landed on one worker is spread over both, and the shared socket's guarantees hold under load.
// Real CLI, loopback, real signals; the shares asserted are far from what an even split gives.
import assert from "node:assert/strict";
import net from "node:net";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { alive, boot, cleanup, continuousLoad, fixture, gone, type RuntimeName, sleep, stopCleanly } from "./helpers.ts";

const APP = fixture("app.ts");

/** One keep-alive connection's answers: the pids, in order. Reconnects after `Connection: close`, as a pool does. */
interface PoolClient {
  pids: string[];
  failed: string[];
}

/**
 * `n` keep-alive connections opened at once, each sending GET /pid back to back until stop().
 * `ready` resolves when every connection has its first answer.
 */
function keepAlivePool(port: number, n: number): { ready: Promise<void>; stop: () => Promise<PoolClient[]> } {
  let running = true;
  const clients: PoolClient[] = Array.from({ length: n }, () => ({ pids: [], failed: [] }));
  const first: Promise<void>[] = [];
  const loops = clients.map((c) => {
    let answered!: () => void;
    first.push(new Promise<void>((r) => (answered = r)));
    return (async () => {
      while (running) await drive(port, c, () => running, answered);
    })();
  });
  return { ready: Promise.all(first).then(() => {}), stop: async () => ((running = false), await Promise.all(loops), clients) };
}

/** One connection: requests until the server says close, it fails, or `more()` turns false. */
function drive(port: number, c: PoolClient, more: () => boolean, answered: () => void): Promise<void> {
  return new Promise((resolve) => {
    let buf = "", closing = false;
    const s = net.connect(port, "127.0.0.1", () => s.write("GET /pid HTTP/1.1\r\nHost: x\r\n\r\n"));
    s.setEncoding("latin1");
    s.setTimeout(5000, () => s.destroy(new Error("timeout")));
    s.on("data", (d: string) => {
      buf += d;
      const head = buf.indexOf("\r\n\r\n");
      const len = Number(buf.slice(0, head).match(/content-length:\s*(\d+)/i)?.[1] ?? -1);
      if (head < 0 || len < 0 || buf.length < head + 4 + len) return;
      const headers = buf.slice(0, head);
      if (headers.startsWith("HTTP/1.1 200")) c.pids.push(buf.slice(head + 4, head + 4 + len));
      else c.failed.push(headers.split("\r\n")[0]);
      buf = "";
      answered();
      closing = /\r\nconnection:\s*close/i.test(headers);
      if (closing || !more()) s.end();
      else setTimeout(() => s.write("GET /pid HTTP/1.1\r\nHost: x\r\n\r\n"), 2); // a light load: the test checks placement, not speed
    });
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (!closing) c.failed.push(e.code ?? e.message);
    });
    s.on("close", () => resolve());
  });
}

/** The busiest process's share of `pids`. */
function busiest(pids: string[]): number {
  const by = new Map<string, number>();
  for (const p of pids) by.set(p, (by.get(p) ?? 0) + 1);
  return Math.max(...by.values()) / pids.length;
}

export function balanceSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: balancing the shared socket`, () => {
    it("spreads a keep-alive pool that landed on one worker over both", async () => {
      const { g, base, port } = await boot(rt, [APP], 2);
      // One worker spins, so the other accepts the whole pool: what a burst does by itself.
      const spin = fetch(`${base}/spin?ms=1000`).then((r) => r.text());
      await sleep(200);
      const pool = keepAlivePool(port, 16);
      await pool.ready;
      const spinner = (await spin).split(" ")[1];
      await sleep(2500);
      const clients = await pool.stop();
      const all = clients.flatMap((c) => c.pids);
      for (const [i, c] of clients.entries()) assert.ok(c.pids.length > 0, `connection ${i} was never answered`);
      assert.deepEqual(clients.flatMap((c) => c.failed), []);
      // The last half of the run: the pool has been spread by then.
      const late = clients.flatMap((c) => c.pids.slice(Math.floor(c.pids.length / 2)));
      const share = busiest(late);
      process.stdout.write(`# ${rt}: pool of 16 on 2 workers: busiest worker's share ${share.toFixed(2)} of ${late.length} late requests (${all.length} in all)\n`);
      assert.ok(late.includes(spinner), "the worker that was busy while the pool opened serves part of it");
      assert.ok(share <= 0.75, `busiest worker's share ${share.toFixed(2)}`);
      await stopCleanly(g);
    });

    it("a worker stuck in a handler gets no new connection: the other answers them all", async () => {
      const { g, base, port } = await boot(rt, [APP], 2);
      const spin = fetch(`${base}/spin?ms=4000`).then((r) => r.text());
      await sleep(1000);
      const pool = keepAlivePool(port, 20);
      await pool.ready;
      await sleep(300);
      const clients = await pool.stop();
      const spinner = (await spin).split(" ")[1];
      const pids = new Set(clients.flatMap((c) => c.pids));
      assert.deepEqual(clients.flatMap((c) => c.failed), []);
      assert.equal(pids.size, 1, `answered by ${[...pids]}`);
      assert.ok(!pids.has(spinner), "the stuck worker answered nothing");
      await stopCleanly(g);
    });

    it("SIGKILL of a worker under load fails at most the requests in flight", async () => {
      const { g, base } = await boot(rt, [APP], 2);
      const loops = 6;
      const load = continuousLoad(`${base}/slow?ms=20`, loops);
      await sleep(700);
      const [victim] = g.workerPids();
      process.kill(victim, "SIGKILL");
      await gone([victim]);
      await sleep(800);
      const r = await load.stop();
      // A client loop has one request in flight at a time: at most `loops` can have been on the victim.
      assert.ok(r.failed <= loops, `${r.failed} failed (${r.errors.slice(0, 5).join(", ")})`);
      assert.ok(r.ok > 0);
      await stopCleanly(g);
    });

    it("TTOU under load fails nothing, keep-alive pool included", async () => {
      const { g, base, port } = await boot(rt, [APP], 2);
      const load = continuousLoad(`${base}/pid`, 4);
      const pool = keepAlivePool(port, 8);
      await pool.ready;
      await sleep(500);
      const pids = g.workerPids();
      g.signal("SIGTTOU");
      for (const end = Date.now() + 10_000; pids.every(alive); await sleep(50)) assert.ok(Date.now() < end, "no worker left");
      await sleep(500);
      const r = await load.stop();
      const clients = await pool.stop();
      assert.equal(r.failed, 0, r.errors.slice(0, 5).join(", "));
      assert.deepEqual(clients.flatMap((c) => c.failed), []);
      await stopCleanly(g);
    });
  });
}
