// Robustness: hostile clients and broken apps must not wedge, crash or silently stop a worker.
// Real CLI, loopback sockets, bounded connection counts; never asserts speed.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import net from "node:net";
import { CASES, outcomeOf, refused } from "./malformed.ts";
import { alive, boot, cleanup, cliCommand, fixture, freePort, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

const APP = fixture("robust-app.ts");

/** An open WebSocket, or a rejection. */
export function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
  });
}

/** Opens a WebSocket, sends one message, resolves with the first reply. */
export function wsEcho(url: string, message: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const t = setTimeout(() => { ws.close(); reject(new Error(`no WebSocket reply within ${timeoutMs} ms`)); }, timeoutMs);
    ws.onopen = () => ws.send(message);
    ws.onmessage = (e) => { clearTimeout(t); ws.close(); resolve(String(e.data)); };
    ws.onerror = () => { clearTimeout(t); reject(new Error("WebSocket error")); };
  });
}

/** `n` connections that connect and send nothing; resolves once each is connected or failed. */
export async function openIdle(port: number, n: number): Promise<net.Socket[]> {
  return await Promise.all(Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", () => resolve(s));
  })));
}

/**
 * Seconds until the server closes a connection that sent one request and idles (`after-request`),
 * sends nothing (`silent`), or sends a request head a byte every 300 ms (`dribble`); -1 if open at `capMs`.
 */
export function closedAfter(port: number, kind: "after-request" | "silent" | "dribble", capMs: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = Date.now(), head = `GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(200)}`;
    let drip: ReturnType<typeof setInterval> | undefined, i = 0;
    const s = net.connect(port, "127.0.0.1", () => {
      if (kind === "after-request") s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      if (kind === "dribble") drip = setInterval(() => s.writable && s.write(head[i++ % head.length]), 300);
    });
    const cap = setTimeout(() => { s.destroy(); done(-1); }, capMs);
    const done = (v: number) => { clearInterval(drip); clearTimeout(cap); resolve(v); };
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => done((Date.now() - t0) / 1000));
  });
}

/** Sends `raw` on a fresh connection and resolves with everything read until the server closes (3 s at most). */
export function rawExchange(port: number, raw: string | Uint8Array, capMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(raw));
    const t = setTimeout(() => s.destroy(), capMs);
    s.on("data", (d) => (got += d));
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(t); resolve(got); });
  });
}

export function robustSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: robustness`, () => {
    it("a WebSocket upgrade with the access log on: the socket opens, is logged as 101, and the worker keeps serving", async () => {
      const log = path.join(tmpDir(), "access.log");
      const { g, port, base } = await boot(rt, ["--access-logfile", log, APP]);
      assert.equal(await wsEcho(`ws://127.0.0.1:${port}/ws`, "ping"), "echo ping");
      assert.match((await request(`${base}/after`, 5000)).body, /^hello \/after/);
      await sleep(100);
      const lines = fs.readFileSync(log, "utf8");
      assert.match(lines, /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ws HTTP\/1\.1" 101 0 /m, lines);
      assert.match(lines, /"GET \/after HTTP\/1\.1" 200 /, lines);
      assert.doesNotMatch(g.stderr, /Request closed|not returned from callback/);
      await stopCleanly(g);
    });

    it("a worker whose server stopped serving (an app bug after a Deno upgrade) is replaced", async () => {
      const { g, port, base } = await boot(rt, [APP]);
      const [first] = g.workerPids();
      await wsEcho(`ws://127.0.0.1:${port}/ws-bug`, "x", 2000).catch(() => "");
      if (rt === "deno") {
        await g.waitFor(/Worker can't serve: the native server stopped accepting connections/);
        while (g.workerPids().length < 2) await sleep(20);
      }
      const r = await request(`${base}/pid`, 10_000);
      assert.equal(r.status, 200);
      assert.equal(r.body !== String(first), rt === "deno", "Deno: served by the replacement; Bun: by the same worker");
      await stopCleanly(g);
    });

    it("HUP while a response streams past --graceful-timeout: the old worker cuts it and exits 0, no crash", async () => {
      const { g, base } = await boot(rt, ["--graceful-timeout", "1", APP]);
      const [old] = g.workerPids();
      const drip = request(`${base}/drip?ms=6000`, 10_000).then((r) => `complete ${r.body.length}`, (e) => `cut: ${e.message}`);
      await sleep(500);
      g.signal("SIGHUP");
      await g.waitFor(new RegExp(`\\[${old}\\] \\[INFO\\] Worker exiting`), 8000);
      await sleep(300);
      assert.match(await drip, /^cut/, "the response outliving the graceful timeout is cut");
      assert.ok(!alive(old));
      assert.doesNotMatch(g.stderr, /BadResource|Uncaught|exited with code/);
      assert.match((await request(`${base}/pid`)).body, /^\d+$/);
      await stopCleanly(g);
    });
    for (const serving of ["native", "compat"]) {
      it(`more idle clients than the open file limit allows (--serving ${serving}): workers live on, then serve`, async () => {
        const port = await freePort();
        const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-w", "2", "--serving", serving, APP], {
          command: ["prlimit", "--nofile=64:64", ...cliCommand(rt)],
        });
        await g.ready(2, `http://127.0.0.1:${port}/`);
        const pids = g.workerPids();
        const idle = await openIdle(port, 150);
        await sleep(1500);
        assert.ok(pids.every(alive), `workers alive: ${g.stderr}`);
        for (const s of idle) s.destroy();
        await sleep(1000); // the workers see the closes and accept again
        const r = await request(`http://127.0.0.1:${port}/pid`, 8000);
        assert.equal(r.status, 200);
        assert.deepEqual(g.workerPids(), pids, "no worker was replaced");
        assert.doesNotMatch(g.stderr, /exited with code|Uncaught/);
        await stopCleanly(g);
      });
    }
    for (const serving of ["native", "compat"]) {
      it(`--keep-alive closes idle, silent and dribbling connections, not slow requests, quiet streams or WebSockets (--serving ${serving})`, async () => {
        const { g, port, base } = await boot(rt, ["--keep-alive", "1", "-t", "2", "--serving", serving, APP]);
        const ws = await openWs(`ws://127.0.0.1:${port}/ws`);
        const kinds = ["after-request", "silent", "dribble"] as const;
        // Bun.serve cuts a response silent for its idleTimeout (here 2 s) on its own.
        const bunNative = rt === "bun" && serving === "native";
        const [slow, quiet, ...closed] = await Promise.all([
          request(`${base}/slow?ms=2500`, 8000),
          bunNative ? undefined : request(`${base}/quiet?ms=2500`, 8000),
          ...kinds.map((k) => closedAfter(port, k, 7000)),
        ]);
        assert.equal(slow.status, 200, "a request slower than --keep-alive is not cut");
        if (quiet) assert.equal(quiet.body, "ab", "a stream quiet for longer than --keep-alive is not cut");
        const got = Object.fromEntries(kinds.map((k, i) => [k, closed[i]]));
        // Bun.serve closes by itself: an idle connection at its idleTimeout (here --timeout, 2 s,
        // checked in coarse steps), a request head that is not complete after about 10 s.
        for (const k of bunNative ? ["after-request"] : kinds) assert.ok(got[k] > 0.5 && got[k] < 5, `${k} closed after ${got[k]} s: ${JSON.stringify(got)}`);
        const echo = new Promise<string>((r) => (ws.onmessage = (e) => r(String(e.data))));
        ws.send("still there");
        assert.equal(await echo, "echo still there", "a WebSocket quiet for longer than --keep-alive stays open");
        ws.close();
        await stopCleanly(g);
      });
    }
    for (const serving of ["native", "compat"]) {
      it(`request limits answer 413/414/431 and --request-timeout answers 504 (--serving ${serving}); the worker serves on`, async () => {
        const { g, base } = await boot(rt, ["--serving", serving, "--max-request-body", "1000", "--limit-request-line", "100",
          "--limit-request-fields", "8", "--limit-request-field-size", "100", "--request-timeout", "1", APP]);
        const [pid] = g.workerPids();
        const post = (body: string | AsyncIterable<Uint8Array>) => request({ url: `${base}/echo`, method: "POST", body });
        async function* chunks(n: number) {
          for (let i = 0; i < n; i++) yield new Uint8Array(250);
        }
        assert.equal((await post("a".repeat(1001))).status, 413, "Content-Length over the limit");
        assert.equal((await post(chunks(8))).status, 413, "a chunked body over the limit");
        assert.equal((await post(chunks(2))).body, "got 500", "a chunked body under the limit");
        assert.equal((await post("a".repeat(1000))).body, "got 1000");
        assert.equal((await request(`${base}/${"x".repeat(100)}`)).status, 414);
        const many = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`x-h${i}`, "1"]));
        assert.equal((await request({ url: `${base}/`, headers: many })).status, 431, "too many fields");
        assert.equal((await request({ url: `${base}/`, headers: { "x-big": "b".repeat(100) } })).status, 431, "a field too large");
        const t0 = Date.now();
        assert.equal((await request(`${base}/hold`)).status, 504);
        assert.ok(Date.now() - t0 < 4000);
        const streamed = await request(`${base}/drip?ms=3000`).then(() => "complete", (e) => `cut: ${e.message}`);
        assert.match(streamed, /^cut/, "a body still streaming at the deadline is cut");
        await sleep(200);
        assert.equal((await request(`${base}/aborted`)).body, "1", "the app's request.signal aborted");
        assert.match(g.stderr, /Request timeout \(1 s\): GET \/hold: no response yet: 504/);
        assert.deepEqual(g.workerPids(), [pid]);
        assert.equal((await request(`${base}/pid`)).body, String(pid));
        await stopCleanly(g);
      });
    }
    it("framework WebSockets on the native path: Hono's upgradeWebSocket (logged 101 with the address), Elysia's .ws() on Bun", async () => {
      const log = path.join(tmpDir(), "access.log");
      const hono = await boot(rt, ["--access-logfile", log, fixture("ws-hono.ts")]);
      assert.equal(await wsEcho(`ws://127.0.0.1:${hono.port}/ws`, "hi"), "hono echo hi");
      await sleep(100);
      assert.match(fs.readFileSync(log, "utf8"), /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ws HTTP\/1\.1" 101 0 /m);
      await stopCleanly(hono.g);
      if (rt !== "bun") return;
      const elysia = await boot(rt, [fixture("ws-elysia.ts")]);
      assert.equal(await wsEcho(`ws://127.0.0.1:${elysia.port}/ws`, "hi"), "elysia echo hi");
      await stopCleanly(elysia.g);
    });

    it("HUP with a WebSocket open and a request in flight: both last to --graceful-timeout, then a close frame and one log line", async () => {
      const { g, port, base } = await boot(rt, ["--graceful-timeout", "2", APP]);
      const ws = await openWs(`ws://127.0.0.1:${port}/ws`);
      const closed = new Promise<{ code: number; at: number }>((r) => (ws.onclose = (e) => r({ code: e.code, at: Date.now() })));
      const slow = request(`${base}/slow?ms=5000`, 10_000).then(() => "answered", () => "cut");
      await sleep(300);
      const t0 = Date.now();
      g.signal("SIGHUP");
      const c = await closed;
      assert.equal(c.code, 1001, "a close frame: going away");
      assert.ok(c.at - t0 > 1500, `the session lasted to the deadline (closed after ${c.at - t0} ms)`);
      assert.equal(await slow, "cut");
      await g.waitFor(/Graceful timeout \(2 s\): cut 1 request\(s\) and 1 WebSocket session\(s\)/);
      await stopCleanly(g);
    });
    it("WebSockets on the compat path: the runtime's own API and Hono's helper echo; HUP sends a close frame at the deadline", async () => {
      const log = path.join(tmpDir(), "access.log");
      const hono = await boot(rt, ["--serving", "compat", "--access-logfile", log, fixture("ws-hono.ts")]);
      assert.equal(await wsEcho(`ws://127.0.0.1:${hono.port}/ws`, "hi"), "hono echo hi");
      await sleep(100);
      assert.match(fs.readFileSync(log, "utf8"), /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/ws HTTP\/1\.1" 101 0 /m);
      await stopCleanly(hono.g);
      const { g, port, base } = await boot(rt, ["--serving", "compat", "--graceful-timeout", "1", "--keep-alive", "1", APP]);
      assert.equal(await wsEcho(`ws://127.0.0.1:${port}/ws`, "ping"), "echo ping");
      const ws = await openWs(`ws://127.0.0.1:${port}/ws`);
      const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
      await sleep(1500); // quiet for longer than --keep-alive would allow a request head: still open
      const echo = new Promise<string>((r) => (ws.onmessage = (e) => r(String(e.data))));
      ws.send("later");
      assert.equal(await echo, "echo later");
      g.signal("SIGHUP");
      assert.equal(await closed, 1001);
      await g.waitFor(/Graceful timeout \(1 s\): cut 0 request\(s\) and 1 WebSocket session\(s\)/);
      assert.match((await request(`${base}/pid`)).body, /^\d+$/);
      await stopCleanly(g);
    });
    it("access log: requests the client gave up on get their line; a Host-less request's URL names the real port", async () => {
      const log = path.join(tmpDir(), "access.log");
      const { g, port, base } = await boot(rt, ["--access-logfile", log, APP]);
      for (const target of ["/slow?ms=600", "/drip?ms=1500"]) {
        await request(`${base}${target}`, 300).catch(() => "gave up");
      }
      const hostless = await rawExchange(port, "GET /url HTTP/1.0\r\n\r\n");
      assert.match(hostless, new RegExp(`\r\n\r\nhttp://localhost:${port}/url$`), hostless);
      await sleep(1500);
      const lines = fs.readFileSync(log, "utf8");
      assert.match(lines, /"GET \/slow\?ms=600 HTTP\/1\.1" 200 /, lines);
      assert.match(lines, /"GET \/drip\?ms=1500 HTTP\/1\.1" 200 /, lines);
      await stopCleanly(g);
    });
    it("a Host-less request on the second of two addresses names that address's port", async () => {
      const [p1, p2] = [await freePort(), await freePort()];
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${p1}`, "-b", `127.0.0.1:${p2}`, "--runtime", rt, APP]);
      await g.ready(1, `http://127.0.0.1:${p2}/`);
      for (const port of [p2, p1]) {
        const reply = await rawExchange(port, "GET /url HTTP/1.0\r\n\r\n");
        assert.match(reply, new RegExp(`\r\n\r\nhttp://localhost:${port}/url$`), reply);
      }
      await stopCleanly(g);
    });
    for (const serving of ["native", "compat"]) {
      it(`a corpus of ${CASES.length} malformed and smuggling requests is refused (--serving ${serving}); the worker lives and serves`, async () => {
        const { g, port, base } = await boot(rt, ["--serving", serving, APP]);
        const [pid] = g.workerPids();
        const outcomes = await Promise.all(CASES.map(async (c) => ({ c, o: outcomeOf(await rawExchange(port, c.raw, 2000)) })));
        const accepted = outcomes.filter(({ c, o }) => !c.smuggles && !refused(o.status)).map(({ c, o }) => `${c.name}: ${o.status}`);
        assert.deepEqual(accepted, [], "each malformed request is answered 4xx (501/505) or closed");
        assert.equal((await request(`${base}/smuggled-count`)).body, "0", "no hidden request reached the app");
        assert.ok(alive(pid));
        assert.deepEqual(g.workerPids(), [pid], "the worker was never replaced");
        assert.match((await request(`${base}/pid`)).body, new RegExp(`^${pid}$`));
        await stopCleanly(g);
      });
    }
  });
}
