// The behavioural suite: the real CLI, real processes, loopback sockets, real signals.
// Each runtime has a ten-line entry (bun.test.ts, deno.test.ts) that runs it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { alive, boot, cleanup, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

const APP = fixture("app.ts");
const LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(INFO|WARNING|ERROR|CRITICAL|DEBUG)\] /;

export function behaviourSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  const start = (args: string[], workers = 1, opts: { env?: Record<string, string>; cwd?: string } = {}) => boot(rt, args, workers, opts);

  describe(`guvnor on ${rt}: serving`, () => {
    it("boots 2 workers, logs gunicorn's lines, and requests reach both", async () => {
      const { g, base, port } = await start([APP], 2);
      await g.waitFor(/Booting worker with pid: \d+[\s\S]*Booting worker with pid: \d+/);
      const lines = g.stderr.trim().split("\n");
      for (const l of lines) assert.match(l, LOG_LINE);
      assert.match(g.stderr, /\[INFO\] Starting guvnor \d+\.\d+\.\d+/);
      assert.match(g.stderr, new RegExp(`\\[${g.pid}\\] \\[INFO\\] Listening at: http://127\\.0\\.0\\.1:${port} \\(${g.pid}\\)`));
      assert.match(g.stderr, /\[INFO\] Using worker: fetch/);
      const workers = g.workerPids();
      assert.equal(workers.length, 2);
      for (const w of workers) assert.match(g.stderr, new RegExp(`\\[${w}\\] \\[INFO\\] Booting worker with pid: ${w}`));
      const seen = new Set<string>();
      for (let i = 0; i < 300 && seen.size < 2; i++) seen.add((await request(`${base}/pid`)).body);
      assert.deepEqual([...seen].map(Number).sort(), [...workers].sort(), "both workers answered");
      assert.ok(!seen.has(String(g.pid)), "the arbiter never answers a request");
      await stopCleanly(g);
    });

    it("serves a plain exported function named with :name", async () => {
      const { g, base } = await start([`${fixture("fn-app.ts")}:handler`]);
      assert.equal((await request(`${base}/x`)).body, "fn /x");
      await stopCleanly(g);
    });

    it("serves a Node-style listener with -k node", async () => {
      const { g, base } = await start(["-k", "node", fixture("node-app.ts")]);
      assert.equal((await request(`${base}/n?q=1`)).body, "node GET /n?q=1");
      await stopCleanly(g);
    });

    it("listens on IPv6", async () => {
      const port = await freePort("::1");
      const g = new Guvnor(rt, ["-b", `[::1]:${port}`, APP]);
      await g.ready(1, `http://[::1]:${port}/`);
      assert.match(g.stderr, new RegExp(`Listening at: http://\\[::1\\]:${port} `));
      assert.equal((await request(`http://[::1]:${port}/ip`)).body, "::1");
      await stopCleanly(g);
    });

    it("listens on a unix socket with the umask's mode, and removes it on exit", async () => {
      const sock = path.join(tmpDir(), "app.sock");
      const g = new Guvnor(rt, ["-b", `unix:${sock}`, "--umask", "007", APP]);
      await g.ready(1, { url: "http://localhost/", socketPath: sock });
      assert.match(g.stderr, new RegExp(`Listening at: unix:${sock} `));
      assert.equal(fs.statSync(sock).mode & 0o777, 0o770);
      assert.equal((await request({ url: "http://localhost/hi", socketPath: sock })).body, "hello /hi");
      await stopCleanly(g);
      assert.equal(fs.existsSync(sock), false, "socket file removed");
    });

    it("serves several addresses from the same workers", async () => {
      const [p1, p2] = [await freePort(), await freePort()];
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${p1}`, "--bind", `127.0.0.1:${p2}`, APP]);
      await g.ready(1, `http://127.0.0.1:${p1}/`);
      const [a, b] = [await request(`http://127.0.0.1:${p1}/pid`), await request(`http://127.0.0.1:${p2}/pid`)];
      assert.equal(a.body, b.body);
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: HTTP through the fetch worker`, () => {
    it("keeps method, URL with host, repeated headers, HEAD, client address and keep-alive", async () => {
      const { g, base, port } = await start([APP]);
      const h = await request({ url: `${base}/headers?x=1`, headers: { "x-multi": ["a", "b"], host: `example.test:${port}` } });
      assert.equal(h.status, 200);
      assert.equal(h.body, `url=http://example.test:${port}/headers?x=1 x-multi=a, b`);
      assert.deepEqual(h.headers["set-cookie"], ["a=1", "b=2"]);
      const head = await request({ url: `${base}/big?n=1000`, method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.body, "");
      assert.equal((await request(`${base}/ip`)).body, "127.0.0.1");
      const { Agent } = await import("node:http");
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const ports = new Set<number>();
      for (let i = 0; i < 3; i++) {
        await request({ url: `${base}/`, agent });
        for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) ports.add(s.localPort!);
      }
      assert.equal(ports.size, 1, "three requests on one kept-alive connection");
      agent.destroy();
      await stopCleanly(g);
    });

    it("streams request and response bodies, large ones too", async () => {
      const { g, base } = await start([APP]);
      const chunk = new Uint8Array(64 * 1024).map((_, i) => i % 251);
      let expectedSum = 0;
      for (let i = 0; i < 40; i++) for (const b of chunk) expectedSum = (expectedSum + b) % 65536;
      async function* body() {
        for (let i = 0; i < 40; i++) {
          yield chunk;
          if (i % 10 === 0) await sleep(10);
        }
      }
      const echo = await request({ url: `${base}/echo`, method: "POST", body: body(), headers: { "content-type": "application/octet-stream" } });
      assert.deepEqual(JSON.parse(echo.body), { method: "POST", bytes: 40 * 64 * 1024, sum: expectedSum, type: "application/octet-stream" });
      const t0 = Date.now();
      const stream = await request(`${base}/stream`);
      assert.equal(stream.body, "chunk0\nchunk1\nchunk2\nchunk3\nchunk4\n");
      assert.equal(stream.headers["content-length"], undefined, "streamed, not buffered into a length");
      assert.ok(Date.now() - t0 >= 200);
      const big = await request(`${base}/big?n=5000000`);
      assert.equal(big.body.length, 5_000_000);
      await stopCleanly(g);
    });

    it("turns an exception in the app into a 500, logs its stack, and keeps serving", async () => {
      const { g, base } = await start([APP]);
      const pid = (await request(`${base}/pid`)).body;
      const r = await request(`${base}/error`);
      assert.equal(r.status, 500);
      await g.waitFor(/\[ERROR\] Error handling request GET \/error[\s\S]*boom from the app[\s\S]*at fetch/);
      assert.equal((await request(`${base}/pid`)).body, pid, "same worker still serving");
      await stopCleanly(g);
    });

    it("writes access log lines with gunicorn's atoms", async () => {
      const log = path.join(tmpDir(), "access.log");
      const { g, base } = await start(["--access-logfile", log, "--access-logformat", '%(h)s %(l)s "%(r)s" %(s)s %(b)s "%(a)s" %(m)s %(U)s %(q)s %({x-id}i)s %(p)s', APP]);
      await request({ url: `${base}/hello?a=1`, headers: { "user-agent": "suite/1", "x-id": "42" } });
      await request({ url: `${base}/nope`, method: "HEAD" });
      await sleep(200);
      const lines = fs.readFileSync(log, "utf8").trim().split("\n");
      const pid = g.workerPids()[0];
      assert.ok(lines.includes(`127.0.0.1 - "GET /hello?a=1 HTTP/1.1" 200 12 "suite/1" GET /hello a=1 42 <${pid}>`), lines.join("\n"));
      assert.match(lines.at(-1)!, /^127\.0\.0\.1 - "HEAD \/nope HTTP\/1\.1" 200 0 /);
      await stopCleanly(g);
    });

    it("access log '-' goes to stdout in the default format", async () => {
      const { g, base } = await start(["--access-logfile", "-", APP]);
      await request({ url: `${base}/x`, headers: { referer: "http://ref/", "user-agent": "ua" } });
      await g.waitFor(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/x HTTP\/1\.1" 200 8 "http:\/\/ref\/" "ua"$/m, 5000, "stdout");
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: stopping`, () => {
    it("TERM lets an in-flight request finish, then exits 0 with no process left", async () => {
      const { g, base } = await start([APP], 2);
      const slow = request(`${base}/slow?ms=1500`);
      await sleep(300);
      g.signal("SIGTERM");
      const r = await slow;
      assert.equal(r.status, 200);
      assert.match(r.body, /^slow done \d+$/);
      const exit = await g.exit();
      assert.deepEqual(exit, { code: 0, signal: null });
      await gone(g.workerPids());
      assert.match(g.stderr, /Handling signal: term[\s\S]*Shutting down: Master/);
    });

    for (const serving of ["native", "compat"]) {
      it(`TERM refuses new connections at once while in-flight requests finish (--serving ${serving})`, async () => {
        const { g, base } = await start(["--serving", serving, APP], 2);
        const slow = request(`${base}/slow?ms=2000`);
        await sleep(300);
        g.signal("SIGTERM");
        await sleep(700);
        const t0 = Date.now();
        const late = await request(base + "/late", 5000).then((r) => `answered ${r.status}`, (e) => String(e.code ?? e.message));
        assert.match(late, /ECONNREFUSED|ECONNRESET/, `a connection during the stop: ${late}`);
        assert.ok(Date.now() - t0 < 1000, "refused at once, not left waiting in a backlog");
        assert.equal((await slow).status, 200);
        assert.equal((await g.exit()).code, 0);
        await gone(g.workerPids());
      });
    }

    it("a graceful stop is bounded by --graceful-timeout", async () => {
      const { g, base } = await start(["--graceful-timeout", "1", APP]);
      const slow = request(`${base}/slow?ms=10000`).catch((e) => e);
      await sleep(300);
      const t0 = Date.now();
      g.signal("SIGTERM");
      await g.exit();
      assert.ok(Date.now() - t0 < 4000, `stopped in ${Date.now() - t0} ms`);
      assert.ok((await slow) instanceof Error, "the request that outlived the timeout was cut");
      await gone(g.workerPids());
    });

    for (const sig of ["SIGINT", "SIGQUIT"] as const) {
      it(`${sig} stops at once, without waiting for in-flight requests`, async () => {
        const { g, base } = await start([APP], 2);
        const slow = request(`${base}/slow?ms=10000`).catch((e) => e);
        await sleep(300);
        const t0 = Date.now();
        g.signal(sig);
        const exit = await g.exit();
        assert.equal(exit.code, 0);
        assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
        assert.ok((await slow) instanceof Error);
        await gone(g.workerPids());
      });
    }

    it("writes the pid file at start and removes it at exit", async () => {
      const pidfile = path.join(tmpDir(), "guvnor.pid");
      const { g } = await start(["-p", pidfile, APP]);
      assert.equal(fs.readFileSync(pidfile, "utf8").trim(), String(g.pid));
      await stopCleanly(g);
      assert.equal(fs.existsSync(pidfile), false);
    });

    it("TTIN adds a worker and TTOU removes one", async () => {
      const { g } = await start([APP], 1);
      g.signal("SIGTTIN");
      await g.waitFor(/Booting worker[\s\S]*Booting worker/);
      const [first] = g.workerPids();
      g.signal("SIGTTOU");
      await gone([first]);
      assert.ok(alive(g.workerPids()[1]));
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: configuration`, () => {
    it("reads a config file, with environment over file and command line over environment", async () => {
      const dir = tmpDir();
      const port = await freePort();
      fs.copyFileSync(APP, path.join(dir, "app.ts"));
      fs.writeFileSync(path.join(dir, "guvnor.config.ts"),
        `export default { bind: ["127.0.0.1:${port}"], workers: 3, timeout: 12, keepAlive: 7, app: "app.ts", env: ["FROM_CONFIG=yes"] };\n`);
      const print = async (args: string[], env: Record<string, string> = {}) => {
        const g = new Guvnor(rt, ["--print-config", ...args], { cwd: dir, env });
        const exit = await g.exit();
        assert.equal(exit.code, 0, g.stderr);
        return g.stdout;
      };
      const fromFile = await print([]);
      assert.match(fromFile, /^workers\s+= 3$/m);
      assert.match(fromFile, /^timeout\s+= 12$/m);
      const fromEnv = await print([], { GUVNOR_WORKERS: "2", GUVNOR_TIMEOUT: "9" });
      assert.match(fromEnv, /^workers\s+= 2$/m);
      assert.match(fromEnv, /^timeout\s+= 9$/m);
      assert.match(fromEnv, /^keepAlive\s+= 7$/m);
      const fromCli = await print(["-w", "5"], { GUVNOR_WORKERS: "2" });
      assert.match(fromCli, /^workers\s+= 5$/m);
      // and a real boot from the config file alone
      const g = new Guvnor(rt, [], { cwd: dir, env: { GUVNOR_WORKERS: "1" } });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      assert.equal((await request(`http://127.0.0.1:${port}/env?name=FROM_CONFIG`)).body, "yes");
      await stopCleanly(g);
    });

    it("uses PORT and WEB_CONCURRENCY like gunicorn", async () => {
      const g = new Guvnor(rt, ["--print-config", APP], { env: { PORT: "9123", WEB_CONCURRENCY: "4" } });
      await g.exit();
      assert.match(g.stdout, /^bind\s+= \["0\.0\.0\.0:9123"\]$/m);
      assert.match(g.stdout, /^workers\s+= 4$/m);
    });

    it("passes -e KEY=VALUE to the workers", async () => {
      const { g, base } = await start(["-e", "GREETING=hi there", "-e", "OTHER=1", APP]);
      assert.equal((await request(`${base}/env?name=GREETING`)).body, "hi there");
      await stopCleanly(g);
    });

    it("--check-config imports the app: 0 when good, 1 with the reason when not", async () => {
      const good = new Guvnor(rt, ["--check-config", APP]);
      assert.equal((await good.exit()).code, 0, good.stderr);
      const bad = new Guvnor(rt, ["--check-config", fixture("not-an-app.ts")]);
      assert.equal((await bad.exit()).code, 1);
      assert.match(bad.stderr, /is not an app/);
      // the same check the worker makes: the app must suit the worker class
      const wrongClass = new Guvnor(rt, ["--check-config", "-k", "node", APP]);
      assert.equal((await wrongClass.exit()).code, 1);
      assert.match(wrongClass.stderr, /is a fetch-style app: serve it with --worker-class fetch/);
    });
  });

  describe(`guvnor on ${rt}: user errors`, () => {
    const fails = async (args: string[], code: number, message: RegExp, opts: { cwd?: string } = {}) => {
      const g = new Guvnor(rt, args, opts);
      const exit = await g.exit();
      assert.equal(exit.code, code, `exit code; stderr:\n${g.stderr}`);
      assert.match(g.stderr, message);
      await gone(g.workerPids());
      return g;
    };

    it("unknown option", async () => {
      await fails(["--wokers", "2", APP], 1, /^Error: Unknown option --wokers/m);
    });
    it("bad worker class name", async () => {
      await fails(["-k", "fetchh", APP], 1, /^Error: --worker-class must be fetch, node or path\/to\/worker\.ts:ClassName \(got "fetchh"\)$/m);
    });
    it("bad value: -w abc", async () => {
      await fails(["-w", "abc", APP], 1, /^Error: --workers must be a positive integer \(got "abc"\)$/m);
    });
    it("an unknown GUVNOR_ variable is named in a warning", async () => {
      const g = new Guvnor(rt, ["--print-config", APP], { env: { GUVNOR_WOKRERS: "3" } });
      assert.equal((await g.exit()).code, 0);
      assert.match(g.stderr, /^Warning: GUVNOR_WOKRERS is not a guvnor setting/m);
    });
    it("bad value from the environment names the variable", async () => {
      const g = new Guvnor(rt, [APP], { env: { GUVNOR_TIMEOUT: "soon" } });
      assert.equal((await g.exit()).code, 1);
      assert.match(g.stderr, /GUVNOR_TIMEOUT must be 0 to 86400 seconds \(got "soon"\)/);
    });
    it("malformed bind address", async () => {
      await fails(["-b", "127.0.0.1:99999", APP], 1, /Invalid bind address "127\.0\.0\.1:99999": port must be a number between 0 and 65535/);
    });
    it("missing app module", async () => {
      await fails(["nope/missing.ts"], 4, /App module not found: nope\/missing\.ts/);
    });
    it("no app at all", async () => {
      await fails([], 1, /No app given/, { cwd: tmpDir() });
    });
    it("an export that is not an app", async () => {
      const port = await freePort();
      const g = await fails(["-b", `127.0.0.1:${port}`, fixture("not-an-app.ts")], 4, /is not an app: expected an object with a fetch\(request\) method[\s\S]*\(got a number\)/);
      assert.match(g.stderr, /Reason: App failed to load\./);
      assert.equal(g.workerPids().length, 1, "no restart loop");
    });
    it("an app that throws at import: exit 4 with the stack", async () => {
      const port = await freePort();
      const g = await fails(["-b", `127.0.0.1:${port}`, fixture("throws-at-import.ts")], 4, /this app cannot even be imported[\s\S]*throws-at-import\.ts/);
      assert.equal(g.workerPids().length, 1, "no restart loop");
    });
    it("a missing named export", async () => {
      await fails([`${APP}:nothere`], 4, /has no export "nothere"/);
    });
    it("invalid config file", async () => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, "guvnor.config.ts"), "export default { wokers: 2 };\n");
      await fails([APP], 1, /Unknown setting "wokers" in guvnor\.config\.ts/, { cwd: dir });
      await fails(["-c", "missing.config.ts", APP], 1, /Config file not found: missing\.config\.ts/, { cwd: dir });
      fs.writeFileSync(path.join(dir, "broken.config.ts"), "export default {\n");
      await fails(["-c", "broken.config.ts", APP], 1, /Invalid config file broken\.config\.ts/, { cwd: dir });
    });
    it("address in use: retries, then exits 1 naming the address", async () => {
      const { g, port } = await start([APP]);
      const t0 = Date.now();
      const second = await fails(["-b", `127.0.0.1:${port}`, APP], 1, new RegExp(`Can't bind 127\\.0\\.0\\.1:${port}: address already in use`));
      assert.ok(Date.now() - t0 >= 3500, "retried for about 4 s");
      assert.equal((second.stderr.match(/Connection in use/g) ?? []).length, 5);
      await stopCleanly(g);
    });
  });
}
