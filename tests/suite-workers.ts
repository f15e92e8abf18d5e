// Worker classes: custom workers from docs/custom-workers.md and examples/, the node
// worker with a real Express app, and real framework apps through the fetch worker.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { boot, cleanup, fixture, freePort, gone, Guvnor, request, ROOT, type RuntimeName, stopCleanly, tmpDir } from "./helpers.ts";

const example = (name: string): string => path.join(ROOT, "examples", name);

/** Sends each line over one TCP (or unix) connection and resolves with the first `n` lines answered. */
function talk(target: { port?: number; path?: string }, lines: string[], n = lines.length): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const conn = target.path ? net.connect(target.path) : net.connect(target.port!, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => { conn.destroy(); reject(new Error(`no answer to ${lines}; got ${JSON.stringify(got)}`)); }, 10_000);
    conn.setEncoding("utf8");
    conn.on("data", (d: string) => {
      got += d;
      const answered = got.split("\n").slice(0, -1);
      if (answered.length >= n) {
        clearTimeout(timer);
        conn.destroy();
        resolve(answered.slice(0, n));
      }
    });
    conn.on("error", (err) => { clearTimeout(timer); reject(err); });
    conn.write(lines.map((l) => l + "\n").join(""));
  });
}

/** GET that records when each body chunk arrived, to tell streaming from buffering. */
function chunks(url: string, onFirst?: () => void): Promise<{ status: number; headers: http.IncomingHttpHeaders; parts: { at: number; text: string }[] }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
      const parts: { at: number; text: string }[] = [];
      res.setEncoding("utf8");
      res.on("data", (text: string) => { if (parts.push({ at: Date.now() - t0, text }) === 1) onFirst?.(); });
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, parts }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url} timed out`)));
    req.on("error", reject);
  });
}

const post = (url: string, body: unknown) =>
  request({ url, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

export function workersSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  const start = (args: string[], workers = 1, opts: { cwd?: string; probe?: boolean } = {}) => boot(rt, args, workers, opts);
  const stop = stopCleanly;

  describe(`guvnor on ${rt}: custom worker classes`, () => {
    it("examples/node-http-worker.ts serves a (req, res) app and an Express app with node:http", async () => {
      const worker = `${example("node-http-worker.ts")}:NodeHttpWorker`;
      const { g, base } = await start(["-k", worker, example("hello-node.ts")], 2);
      assert.match(g.stderr, /\[INFO\] Using worker: .*node-http-worker\.ts:NodeHttpWorker/);
      assert.match(g.stderr, /\[INFO\] Serving http:\/\/127\.0\.0\.1:\d+ with node:http/);
      const r = await request(`${base}/hi`);
      assert.equal(r.status, 200);
      assert.match(r.body, /^hello \/hi, from worker (\d+)\n$/);
      assert.ok(g.workerPids().includes(Number(r.body.match(/worker (\d+)/)![1])));
      await stop(g);

      const express = await start(["-k", worker, fixture("express-app.ts")]);
      assert.deepEqual(JSON.parse((await request(`${express.base}/user/ann?q=1`)).body), { name: "ann", q: "1", ip: "127.0.0.1" });
      // TERM during a streamed response: the example lets it finish before the worker exits.
      const streamed = await chunks(`${express.base}/stream`, () => express.g.signal("SIGTERM"));
      assert.equal(streamed.parts.map((p) => p.text).join(""), "chunk0\nchunk1\nchunk2\nchunk3\ndone\n");
      assert.deepEqual(await express.g.exit(), { code: 0, signal: null }, express.g.stderr);
      await gone(express.g.workerPids());
    });

    it("examples/echo-worker.ts echoes lines on TCP and unix sockets, and says bye on TERM", async () => {
      const port = await freePort();
      const sock = path.join(tmpDir(), "echo.sock");
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-b", `unix:${sock}`, "-w", "2",
        "-k", `${example("echo-worker.ts")}:EchoWorker`, example("shout.ts")]);
      await g.ready(2);
      await g.waitFor(/Echoing lines on http:\/\/127\.0\.0\.1:\d+, unix:[\s\S]*Echoing lines on/);
      const [a, b] = await talk({ port }, ["hello", "two words"]);
      assert.match(a, /^HELLO \(from worker \d+\)$/);
      assert.match(b, /^TWO WORDS \(from worker \d+\)$/);
      assert.match((await talk({ path: sock }, ["unix"]))[0], /^UNIX \(from worker \d+\)$/);
      // A client still connected at TERM is told, and the worker exits once it hangs up.
      const held = net.connect(port, "127.0.0.1");
      let heard = "";
      held.setEncoding("utf8");
      held.on("data", (d: string) => { heard += d; if (heard.includes("bye\n")) held.end(); });
      held.write("ping\n");
      await new Promise<void>((resolve) => held.on("data", () => resolve()));
      await stop(g);
      assert.match(heard, /^PING \(from worker \d+\)\nbye\n$/);
    });

    it("loads the worker class named by workerClass in a config file, relative to the cwd", async () => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({
        workerClass: `${path.relative(dir, example("echo-worker.ts"))}:EchoWorker`,
        app: path.relative(dir, example("shout.ts")),
      }));
      const port = await freePort();
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`], { cwd: dir });
      await g.ready(1);
      await g.waitFor(/Echoing lines on/);
      assert.match((await talk({ port }, ["from config"]))[0], /^FROM CONFIG \(from worker \d+\)$/);
      await stop(g);
    });

    it("serve({ app, workerClass }) runs a custom worker class in a program that embeds guvnor", async () => {
      const port = await freePort();
      // The class named by path, then given as the class itself.
      for (const name of ["serve-echo-worker.ts", "serve-class-worker.ts"]) {
        const program = fixture(name);
        const command = rt === "bun" ? [path.join(ROOT, "node_modules", ".bin", "bun"), program] : [path.join(ROOT, "node_modules", ".bin", "deno"), "run", "-A", program];
        const g = new Guvnor(rt, [], { command, env: { GUVNOR_BIND: `127.0.0.1:${port}` } });
        await g.ready(2);
        await g.waitFor(/Echoing lines on[\s\S]*Echoing lines on/);
        assert.match((await talk({ port }, ["embedded"]))[0], /^EMBEDDED \(from worker \d+\)$/, name);
        await stop(g);
      }
    });

    it("--check-config loads a custom class, leaves judging the app to it, and names a bad one", async () => {
      const echo = `${example("echo-worker.ts")}:EchoWorker`;
      // Not an app for the HTTP workers, but a custom worker may serve anything.
      const ok = new Guvnor(rt, ["--check-config", "-k", echo, `${fixture("not-an-app.ts")}:named`]);
      assert.deepEqual(await ok.exit(), { code: 0, signal: null }, ok.stderr);
      assert.match(ok.stdout + ok.stderr, /Config OK: .*not-an-app\.ts:named \(worker class .*echo-worker\.ts:EchoWorker/);
      const bad = new Guvnor(rt, ["--check-config", "-k", `${fixture("bad-workers.ts")}:NoRun`, example("shout.ts")]);
      assert.equal((await bad.exit()).code, 1);
      assert.match(bad.stderr, /^Error: Worker class ".*:NoRun" does not implement run\(\)/);
    });

    it("a bad worker class is one error naming it, exit 3, and no second boot", async () => {
      const bad = fixture("bad-workers.ts");
      const cases: [string, RegExp][] = [
        [`${bad}:NotAWorker`, /Worker class ".*bad-workers\.ts:NotAWorker" is not a subclass of Worker: export class NotAWorker extends Worker/],
        [`${bad}:Missing`, /Worker class ".*bad-workers\.ts:Missing" not found: .*bad-workers\.ts has no export "Missing" \(it exports: .*NoRun/],
        [`${bad}:notAClass`, /Worker class ".*:notAClass" not found: .* has no class "notAClass"/],
        [`${bad}:NoRun`, /Worker class ".*bad-workers\.ts:NoRun" does not implement run\(\): define async run\(\)/],
        [`./no/such/worker.ts:W`, /Worker class "\.\/no\/such\/worker\.ts:W" not found: no file .*no\/such\/worker\.ts/],
      ];
      await Promise.all(cases.map(async ([spec, message]) => {
        const port = await freePort();
        const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-k", spec, example("hello.ts")]);
        const exit = await g.exit(20_000);
        assert.deepEqual(exit, { code: 3, signal: null }, g.stderr);
        assert.match(g.stderr, message);
        assert.equal(g.stderr.match(/\[ERROR\] Exception in worker process/g)?.length, 1, g.stderr);
        assert.equal(g.workerPids().length, 1, `no restart loop:\n${g.stderr}`);
        assert.match(g.stderr, /Reason: Worker failed to boot\./);
      }));
    });
  });

  describe(`guvnor on ${rt}: the node worker with Express`, () => {
    it("serves routes, JSON bodies, a streamed response and the app's error handler", async () => {
      const { g, base } = await start(["-k", "node", fixture("express-app.ts")]);
      const home = await request(`${base}/`);
      assert.equal(home.status, 200);
      assert.equal(home.headers["x-powered-by"], "Express");
      assert.match(home.body, /^express \d+$/);
      assert.deepEqual(JSON.parse((await request(`${base}/user/bob?q=2`)).body), { name: "bob", q: "2", ip: "127.0.0.1" });
      const echoed = await post(`${base}/echo`, { a: [1, 2] });
      assert.equal(echoed.status, 201);
      assert.deepEqual(JSON.parse(echoed.body), { got: { a: [1, 2] } });
      // Streaming: res.write() chunks reach the client as they are written, not at the end.
      const s = await chunks(`${base}/stream`);
      assert.equal(s.status, 200);
      assert.equal(s.headers["transfer-encoding"], "chunked");
      assert.equal(s.parts.map((p) => p.text).join(""), "chunk0\nchunk1\nchunk2\nchunk3\ndone\n");
      assert.ok(s.parts.length >= 2 && s.parts.at(-1)!.at - s.parts[0].at >= 80, `streamed: ${JSON.stringify(s.parts)}`);
      // Errors, thrown and rejected, go to the app's own four-argument error handler.
      for (const route of ["fail", "fail-async"]) {
        const r = await request(`${base}/${route}`);
        assert.equal(r.status, 500);
        assert.match(JSON.parse(r.body).handled, /^express (async )?route failed$/);
      }
      assert.doesNotMatch(g.stderr, /\[ERROR\]/);
      await stop(g);
    });

    it("turns a bare listener's throw or rejection into a 500 and a logged stack, and keeps serving", async () => {
      const { g, base } = await start(["-k", "node", fixture("node-throws.ts")]);
      const pid = (await request(`${base}/`)).body;
      for (const route of ["throw", "throw-async"]) {
        const r = await request(`${base}/${route}`);
        assert.equal(r.status, 500, `${route}: ${r.body}\n${g.stderr}`);
        assert.equal(r.body, "Internal Server Error");
      }
      await g.waitFor(/\[ERROR\] Error handling request GET \/throw-async Error: listener rejected\n\s+at /);
      assert.match(g.stderr, /\[ERROR\] Error handling request GET \/throw Error: listener threw\n\s+at /);
      assert.equal((await request(`${base}/`)).body, pid, "the same worker still serves");
      await stop(g);
    });
  });

  // Each framework on both serving paths of the fetch worker: the runtime's native server, and node:http.
  for (const serving of ["native", "compat"]) describe(`guvnor on ${rt}: frameworks through the fetch worker (--serving ${serving})`, () => {
    it("serves a Hono app unchanged: params, JSON, client address, streaming, onError", async () => {
      const { g, base } = await start(["--serving", serving, fixture("hono-app.ts")]);
      assert.match(g.stderr, new RegExp(`Using worker: fetch \\(${serving}\\)`));
      assert.match((await request(`${base}/`)).body, /^hono \d+$/);
      const user = await request(`${base}/user/zoe?q=x`);
      assert.match(String(user.headers["content-type"]), /^application\/json/);
      assert.deepEqual(JSON.parse(user.body), { name: "zoe", q: "x" });
      assert.deepEqual(JSON.parse((await post(`${base}/echo`, { n: 1 })).body), { got: { n: 1 } });
      assert.equal((await request(`${base}/ip`)).body, "127.0.0.1");
      const s = await chunks(`${base}/stream`);
      assert.equal(s.parts.map((p) => p.text).join(""), "part0\npart1\npart2\n");
      assert.ok(s.parts.at(-1)!.at - s.parts[0].at >= 40, `streamed: ${JSON.stringify(s.parts)}`);
      const err = await request(`${base}/error`);
      assert.deepEqual([err.status, err.body], [418, "handled: hono route failed"]);
      assert.equal((await request(`${base}/nope`)).status, 404);
      await stop(g);
    });

    it("serves an h3 app unchanged: params, JSON bodies, HTTPError, 404", async () => {
      const { g, base } = await start(["--serving", serving, fixture("h3-app.ts")]);
      assert.match((await request(`${base}/`)).body, /^h3 \d+$/);
      assert.deepEqual(JSON.parse((await request(`${base}/user/ann?q=y`)).body), { name: "ann", q: "y" });
      assert.deepEqual(JSON.parse((await post(`${base}/echo`, { k: "v" })).body), { got: { k: "v" } });
      const teapot = await request(`${base}/teapot`);
      assert.equal(teapot.status, 418);
      assert.equal(JSON.parse(teapot.body).message, "short and stout");
      assert.equal((await request(`${base}/nope`)).status, 404);
      await stop(g);
    });

    it("serves an Elysia app unchanged: params, query, JSON bodies, errors", async () => {
      const { g, base } = await start(["--serving", serving, fixture("elysia-app.ts")]);
      assert.match((await request(`${base}/`)).body, /^elysia \d+$/);
      assert.deepEqual(JSON.parse((await request(`${base}/user/kim?q=z`)).body), { name: "kim", q: "z" });
      assert.deepEqual(JSON.parse((await post(`${base}/echo`, { e: true })).body), { got: { e: true } });
      const err = await request(`${base}/error`);
      assert.equal(err.status, 500);
      assert.equal(err.body, "elysia route failed");
      assert.equal((await request(`${base}/nope`)).status, 404);
      await stop(g);
    });
  });
}
