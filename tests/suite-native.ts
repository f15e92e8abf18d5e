// The native serving path: Bun.serve / Deno.serve adopting the arbiter's sockets.
// Real CLI, loopback sockets, real signals; never asserts speed.
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { agentTo, answeredBy, boot, cleanup, fixture, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

const APP = fixture("app.ts");

/** Fresh-connection GETs from `clients` loops until `until` resolves; counts answers and failures. */
async function loadUntil(port: number, clients: number, until: Promise<unknown>): Promise<{ ok: number; failed: string[] }> {
  let done = false;
  void until.then(() => (done = true));
  const st = { ok: 0, failed: [] as string[] };
  const one = () => new Promise<void>((resolve) => {
    let data = "";
    const s = net.connect(port, "127.0.0.1", () => s.write("GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    s.setTimeout(5000, () => s.destroy(new Error("timeout")));
    s.on("data", (d) => (data += d));
    s.on("error", (e: NodeJS.ErrnoException) => { if (!data.startsWith("HTTP/1.1 200")) st.failed.push(e.code ?? e.message); resolve(); });
    s.on("close", () => { if (data.startsWith("HTTP/1.1 200")) st.ok++; else if (!s.errored) st.failed.push(`closed: ${JSON.stringify(data.slice(0, 40))}`); resolve(); });
  });
  await Promise.all(Array.from({ length: clients }, async () => { while (!done) await one(); }));
  return st;
}

/** Opens a WebSocket, sends one message, resolves with the first reply. */
function wsEcho(url: string, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const t = setTimeout(() => { ws.close(); reject(new Error("no WebSocket reply within 5 s")); }, 5000);
    ws.onopen = () => ws.send(message);
    ws.onmessage = (e) => { clearTimeout(t); ws.close(); resolve(String(e.data)); };
    ws.onerror = () => { clearTimeout(t); reject(new Error("WebSocket error")); };
  });
}

export function nativeSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  const start = (args: string[], workers = 1) => boot(rt, args, workers);

  describe(`guvnor on ${rt}: native serving`, () => {
    it("serves natively by default, says so once per worker, and both workers take requests", async () => {
      const { g, base } = await start([APP], 2);
      await g.waitFor(/Using worker: fetch \(native\)[\s\S]*Using worker: fetch \(native\)/);
      assert.doesNotMatch(g.stderr, /\(compat\)/);
      for (const w of g.workerPids()) assert.match(g.stderr, new RegExp(`\\[${w}\\] \\[INFO\\] Using worker: fetch \\(native\\)`));
      const seen = new Set<string>();
      for (let i = 0; i < 300 && seen.size < 2; i++) seen.add((await request(`${base}/pid`)).body);
      assert.deepEqual([...seen].map(Number).sort(), g.workerPids().sort(), "both workers answered");
      assert.equal((await request(`${base}/ip`)).body, "127.0.0.1", "the app sees the client, not the throw-away socket");
      assert.equal((await request(`${base}/error`)).status, 500);
      await stopCleanly(g);
    });

    it("serves a unix socket natively", async () => {
      const sock = path.join(tmpDir(), "native.sock");
      const g = new Guvnor(rt, ["-b", `unix:${sock}`, APP]);
      await g.ready(1, { url: "http://localhost/", socketPath: sock });
      await g.waitFor(/Using worker: fetch \(native\)/);
      assert.equal((await request({ url: "http://localhost/hi", socketPath: sock })).body, "hello /hi");
      await stopCleanly(g);
    });

    it("TERM to a busy worker loses nothing: its in-flight requests finish, new connections go elsewhere", async () => {
      const { g, port, base } = await start([APP], 2);
      const [victim] = g.workerPids();
      // One slow request certainly in flight at the victim: on a keep-alive connection it accepted.
      const pinned = request({ url: `${base}/slow?ms=800`, agent: await agentTo(base, victim) });
      const slow = Array.from({ length: 4 }, () => request(`${base}/slow?ms=800`));
      await sleep(200);
      let stopLoad = () => {};
      const load = loadUntil(port, 8, new Promise<void>((r) => (stopLoad = r)));
      await sleep(300);
      process.kill(victim, "SIGTERM");
      await gone([victim], 10_000);
      await sleep(500); // the replacement boots and serves while the load goes on
      stopLoad();
      const st = await load;
      for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
      assert.deepEqual(await pinned.then((r) => [r.status, r.body]), [200, `slow done ${victim}`], "the victim finished its request");
      assert.deepEqual(st.failed, [], `${st.failed.length} of ${st.ok + st.failed.length} requests failed`);
      assert.ok(st.ok > 0);
      assert.match(g.stderr, new RegExp(`\\[${victim}\\] \\[INFO\\] Worker exiting`));
      await stopCleanly(g);
    });

    it("--serving compat uses the node-compat path, and says so", async () => {
      const { g, base } = await start(["--serving", "compat", APP]);
      await g.waitFor(/Using worker: fetch \(compat\)/);
      assert.doesNotMatch(g.stderr, /\(native\)/);
      assert.equal((await request(`${base}/hi`)).body, "hello /hi");
      await stopCleanly(g);
    });

    it("echoes over a WebSocket through the runtime's own API", async () => {
      const { g, port, base } = await start([fixture("ws-app.ts")]);
      await g.waitFor(/Using worker: fetch \(native\)/);
      assert.match((await request(`${base}/`)).body, /^plain \d+$/);
      assert.equal(await wsEcho(`ws://127.0.0.1:${port}/`, "ping"), "echo ping");
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: --reuse-port slots`, () => {
    /** `n` requests at once, each on its own connection: the kernel hashes each to a slot. */
    const burst = (base: string, n: number) => Promise.all(Array.from({ length: n }, () => request(`${base}/pid`)));

    it("gives each worker its own slot: a burst of connections reaches both", async () => {
      const { g, base } = await start(["--reuse-port", APP], 2);
      await g.waitFor(/Using worker: fetch \(native\)[\s\S]*Using worker: fetch \(native\)/);
      const pids = new Set((await burst(base, 24)).map((r) => r.body));
      assert.deepEqual([...pids].map(Number).sort(), g.workerPids().sort(), "both slots served");
      await stopCleanly(g);
    });

    it("keeps a dead worker's slot: its connections wait for the replacement", async () => {
      const { g, base } = await start(["--reuse-port", APP], 2);
      const [victim] = g.workerPids();
      await answeredBy(base, victim); // its slot takes connections
      process.kill(victim, "SIGKILL");
      const replies = await burst(base, 24); // about half hash to the victim's slot
      for (const r of replies) assert.equal(r.status, 200);
      assert.ok(!replies.some((r) => r.body === String(victim)));
      const replacement = g.workerPids()[2];
      assert.ok(replies.some((r) => r.body === String(replacement)), "the replacement answered what waited on the dead worker's slot");
      await stopCleanly(g);
    });

    it("TTOU retires the worker of the highest slot and closes that slot; TTIN opens it again", async () => {
      const { g, base } = await start(["--reuse-port", APP], 2);
      // Both serving first: a worker stopped while it boots dies of the signal, with no "exiting" line.
      await g.waitFor(/Using worker: fetch \(native\)[\s\S]*Using worker: fetch \(native\)/);
      g.signal("SIGTTOU");
      await g.waitFor(/Worker exiting/);
      await sleep(300); // the arbiter reaps it and closes its slot
      const one = new Set((await burst(base, 24)).map((r) => r.body));
      assert.equal(one.size, 1, "every connection went to the one slot left");
      g.signal("SIGTTIN");
      await g.waitFor(/(Using worker: fetch \(native\)[\s\S]*){3}/);
      const two = new Set((await burst(base, 24)).map((r) => r.body));
      assert.equal(two.size, 2);
      await stopCleanly(g);
    });

    it("USR2 hands the slots to the new arbiter: WINCH and TERM the old one under load lose nothing", async () => {
      const pidfile = path.join(tmpDir(), "guvnor.pid");
      const { g, port } = await start(["--reuse-port", "-p", pidfile, APP], 2);
      const oldWorkers = g.workerPids();
      let stopLoad = () => {}, child = 0;
      const load = loadUntil(port, 8, new Promise<void>((r) => (stopLoad = r)));
      try {
        await sleep(300);
        g.signal("SIGUSR2");
        child = Number((await g.waitFor(/Started new arbiter \(pid: (\d+)\)/))[1]);
        while (g.workerPids().length < 4) await sleep(20);
        await sleep(300);
        g.signal("SIGWINCH"); // the old workers go; the new ones serve the same slots
        await gone(oldWorkers, 10_000);
        g.signal("SIGTERM");
        assert.equal((await g.exit()).code, 0);
        await sleep(500);
      } finally {
        stopLoad();
      }
      const st = await load;
      assert.deepEqual(st.failed, [], `${st.failed.length} of ${st.ok + st.failed.length} requests failed`);
      // The new arbiter takes GUVNOR_SLOTS as its own handoff, not as a misspelt setting.
      assert.match(g.stderr, /Using \d+ sockets? from the previous arbiter/);
      assert.doesNotMatch(g.stderr, /is not a guvnor setting/);
      process.kill(child, "SIGTERM");
      await gone([child, ...g.workerPids()], 10_000);
    });

    it("HUP under a connection-per-request load loses nothing", async () => {
      const { g, port } = await start(["--reuse-port", APP], 2);
      let stopLoad = () => {};
      const load = loadUntil(port, 8, new Promise<void>((r) => (stopLoad = r)));
      await sleep(300);
      g.signal("SIGHUP");
      await g.waitFor(/Reloaded/);
      await sleep(700);
      stopLoad();
      const st = await load;
      assert.deepEqual(st.failed, [], `${st.failed.length} of ${st.ok + st.failed.length} requests failed`);
      await stopCleanly(g);
    });
  });
}
