// Supervision: respawn, timeouts, recycling, scaling, reload, orphans, hooks.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { alive, answeredBy, boot, cleanup, continuousLoad, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

const APP = fixture("app.ts");

export function supervisionSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  const start = (args: string[], workers = 1, opts: { env?: Record<string, string>; cwd?: string } = {}) => boot(rt, args, workers, opts);
  const stop = stopCleanly;
  const bootedAfter = async (g: Guvnor, n: number, timeoutMs = 15_000) => {
    const end = Date.now() + timeoutMs;
    while (g.workerPids().length < n) {
      if (Date.now() > end) throw new Error(`expected ${n} boots; stderr:\n${g.stderr}`);
      await sleep(20);
    }
    return g.workerPids()[n - 1];
  };

  describe(`guvnor on ${rt}: supervision`, () => {
    it("replaces a worker killed from outside, and says the arbiter did not do it", async () => {
      const { g, base } = await start([APP], 2);
      const [victim] = g.workerPids();
      await answeredBy(base, victim); // it served: the kill takes a working worker away
      const t0 = Date.now();
      process.kill(victim, "SIGKILL");
      const replacement = await bootedAfter(g, 3);
      await g.waitFor(new RegExp(`Worker \\(pid:${victim}\\) was sent SIGKILL! Perhaps out of memory\\?`));
      const seen = new Set<string>();
      // Until the replacement answers (it boots while the other worker takes the requests).
      for (const end = Date.now() + 10_000; Date.now() < end && !seen.has(String(replacement));) seen.add((await request(`${base}/pid`)).body);
      assert.ok(seen.has(String(replacement)), "the replacement serves");
      assert.ok(!seen.has(String(victim)));
      process.stdout.write(`# ${rt}: killed worker replaced and serving after ${Date.now() - t0} ms\n`);
      await stop(g);
    });

    it("kills a worker stuck in while(true) after --timeout and replaces it", async () => {
      const { g, base } = await start(["-t", "2", APP], 1);
      const [stuck] = g.workerPids();
      const hang = request(`${base}/hang`, 15_000).catch((e) => e);
      const t0 = Date.now();
      await g.waitFor(new RegExp(`\\[CRITICAL\\] WORKER TIMEOUT \\(pid:${stuck}\\): no heartbeat for [\\d.]+ s; last request started: GET /hang \\([\\d.]+ s ago\\)`), 10_000);
      await bootedAfter(g, 2);
      await gone([stuck]);
      assert.ok((await hang) instanceof Error, "the hung request is cut");
      assert.equal((await request(`${base}/hello`)).body, "hello /hello");
      const took = Date.now() - t0;
      assert.ok(took < 8000, `replaced in ${took} ms`);
      assert.match(g.stderr, new RegExp(`Worker \\(pid:${stuck}\\) was sent SIG(ABRT|KILL) by the arbiter`));
      assert.doesNotMatch(g.stderr, /has crashed|panic\(/, "a timeout kill is not a runtime crash report");
      await stop(g);
    });

    it("does not count a slow boot against --timeout (--boot-timeout is separate)", async () => {
      const port = await freePort();
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-t", "1", fixture("slow-boot.ts")], { env: { BOOT_MS: "2500" } });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      assert.doesNotMatch(g.stderr, /TIMEOUT/);
      assert.equal(g.workerPids().length, 1);
      await stop(g);
    });

    it("kills a worker that does not boot within --boot-timeout", async () => {
      const port = await freePort();
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "--boot-timeout", "1", fixture("slow-boot.ts")], { env: { BOOT_MS: "30000" } });
      const m = await g.waitFor(/WORKER BOOT TIMEOUT \(pid:(\d+)\)/, 10_000);
      await gone([Number(m[1])]);
      await bootedAfter(g, 2); // and it tries again
      await stop(g);
    });

    it("recycles a worker after --max-requests, starting its replacement first: no failed request", async () => {
      const { g, base } = await start(["--max-requests", "20", APP], 1);
      const [first] = g.workerPids();
      const load = continuousLoad(`${base}/pid`, 2);
      await bootedAfter(g, 2);
      await gone([first]);
      await sleep(300);
      const r = await load.stop();
      assert.equal(r.failed, 0, r.errors.join(", "));
      assert.ok(r.pids.has(String(first)) && r.pids.size >= 2, `pids seen: ${[...r.pids]}`);
      assert.match(g.stderr, /Asking to be recycled: max-requests \(20\) reached/);
      assert.match(g.stderr, new RegExp(`Recycling worker \\(pid:${first}\\): max-requests reached`));
      await stop(g);
    });

    it("recycles a worker over --max-worker-memory", async () => {
      const { g, base } = await start(["--max-worker-memory", "200", APP], 1);
      const [first] = g.workerPids();
      await request(`${base}/grow?mib=256`);
      await g.waitFor(/Recycling worker \(pid:\d+\): memory \d+ MiB > max-worker-memory 200 MiB/, 10_000);
      await gone([first], 10_000);
      assert.notEqual((await request(`${base}/pid`)).body, String(first));
      await stop(g);
    });

    it("WINCH stops the workers and keeps the arbiter and its socket; TTIN brings one back", async () => {
      const { g, base } = await start([APP], 2);
      const pids = g.workerPids();
      g.signal("SIGWINCH");
      await gone(pids);
      assert.ok(alive(g.pid));
      const pending = request(`${base}/hello`, 10_000); // waits in the backlog, not refused
      await sleep(200);
      g.signal("SIGTTIN");
      assert.equal((await pending).body, "hello /hello");
      await stop(g);
    });

    it("USR1 reopens the access log file", async () => {
      const dir = tmpDir(), log = path.join(dir, "access.log");
      const { g, base } = await start(["--access-logfile", log, APP], 1);
      await request(`${base}/before`);
      fs.renameSync(log, `${log}.1`);
      g.signal("SIGUSR1");
      await g.waitFor(/Handling signal: usr1/);
      await sleep(300);
      await request(`${base}/after`);
      await sleep(200);
      assert.match(fs.readFileSync(`${log}.1`, "utf8"), /GET \/before/);
      assert.match(fs.readFileSync(log, "utf8"), /GET \/after/);
      await stop(g);
    });

    it("workers exit within 2 s when the arbiter is SIGKILLed", async () => {
      const { g } = await start([APP], 2);
      const pids = g.workerPids();
      process.kill(g.pid, "SIGKILL");
      await g.exit();
      await gone(pids, 2000);
    });

    it("HUP under continuous load: zero failed requests, and every worker is new", async () => {
      const { g, base } = await start([APP], 2);
      const old = g.workerPids();
      const load = continuousLoad(`${base}/pid`, 4);
      await sleep(500);
      g.signal("SIGHUP");
      await bootedAfter(g, 4);
      await gone(old, 10_000);
      await sleep(500);
      const r = await load.stop();
      assert.equal(r.failed, 0, r.errors.slice(0, 5).join(", "));
      const after = new Set<string>();
      for (let i = 0; i < 50; i++) after.add((await request(`${base}/pid`)).body);
      for (const pid of old) assert.ok(!after.has(String(pid)), "old workers no longer serve");
      process.stdout.write(`# ${rt}: HUP under load: ${r.ok} requests, ${r.failed} failed\n`);
      await stop(g);
    });

    it("HUP re-reads the config file and imports the app afresh", async () => {
      const dir = tmpDir(), port = await freePort();
      fs.writeFileSync(path.join(dir, "app.ts"), `export default { fetch: () => new Response("v1") };\n`);
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({ app: "app.ts", bind: [`127.0.0.1:${port}`], workers: 1 }));
      const g = new Guvnor(rt, [], { cwd: dir });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      assert.equal((await request(`http://127.0.0.1:${port}/`)).body, "v1");
      fs.writeFileSync(path.join(dir, "app.ts"), `export default { fetch: () => new Response("v2") };\n`);
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({ app: "app.ts", bind: [`127.0.0.1:${port}`], workers: 2 }));
      g.signal("SIGHUP");
      await g.waitFor(/Reloaded: 2 new workers serving/);
      assert.equal((await request(`http://127.0.0.1:${port}/`)).body, "v2");
      await stop(g);
    });

    it("HUP with a broken config or a broken app keeps the old workers serving", async () => {
      const dir = tmpDir(), port = await freePort();
      fs.writeFileSync(path.join(dir, "app.ts"), `export default { fetch: () => new Response("good") };\n`);
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({ app: "app.ts", bind: [`127.0.0.1:${port}`] }));
      const g = new Guvnor(rt, [], { cwd: dir });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      const [first] = g.workerPids();
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({ app: "app.ts", workers: "lots" }));
      g.signal("SIGHUP");
      await g.waitFor(/Reload failed, keeping the current config and workers: workers in guvnor\.config\.json must be a positive integer/);
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({ app: "app.ts", bind: [`127.0.0.1:${port}`] }));
      fs.writeFileSync(path.join(dir, "app.ts"), `export default { fetch: ( => };\n`);
      g.signal("SIGHUP");
      await g.waitFor(/Reload failed, keeping the old workers: new workers cannot start \(exit 4: App failed to load\.\)/);
      assert.equal((await request(`http://127.0.0.1:${port}/`)).body, "good");
      assert.ok(alive(first) && alive(g.pid));
      await stop(g);
    });

    it("--reload picks up an edit; a syntax error keeps the old workers serving", async () => {
      const dir = tmpDir(), port = await freePort(), url = `http://127.0.0.1:${port}/`;
      const write = (body: string) => fs.writeFileSync(path.join(dir, "app.ts"), body);
      write(`export default { fetch: () => new Response("v1") };\n`);
      const g = new Guvnor(rt, ["--reload", "-b", `127.0.0.1:${port}`, "app.ts"], { cwd: dir });
      await g.ready(1, url);
      await g.waitFor(/Watching .* for changes/);
      write(`export default { fetch: () => new Response("v2") };\n`);
      await g.waitFor(/Reloading: app\.ts changed[\s\S]*Reloaded: 1 new worker serving/);
      assert.equal((await request(url)).body, "v2");
      write(`export default { fetch: ( => };\n`);
      await g.waitFor(/Reload failed, keeping the old workers/);
      assert.equal((await request(url)).body, "v2");
      write(`export default { fetch: () => new Response("v3") };\n`);
      await g.waitFor(/Reloaded[\s\S]*Reloaded/);
      assert.equal((await request(url)).body, "v3");
      await stop(g);
    });

    it("runs the server hooks, each in its process", async () => {
      const dir = tmpDir(), hookLog = path.join(dir, "hooks.log");
      const { g, base } = await start(["-c", fixture("hooks.config.ts"), APP], 1, { env: { HOOK_LOG: hookLog } });
      await request(`${base}/hooked`);
      g.signal("SIGTTIN");
      await bootedAfter(g, 2);
      await sleep(300);
      const firstGeneration = g.workerPids();
      g.signal("SIGHUP");
      await g.waitFor(/Reloaded/);
      await gone(firstGeneration); // retired with TERM: workerExit after draining
      const secondGeneration = g.workerPids().filter((p) => !firstGeneration.includes(p));
      assert.ok(secondGeneration.length > 0, g.stderr);
      g.signal("SIGINT"); // the second generation quits: workerInt, then workerExit
      await g.exit();
      await gone(g.workerPids());
      const lines = fs.readFileSync(hookLog, "utf8").trim().split("\n").map((l) => l.split(" "));
      const where = (name: string) => lines.filter(([n]) => n === name).map(([, pid]) => Number(pid));
      for (const name of ["onStarting", "whenReady", "preSpawn", "postSpawn", "childExit", "nworkersChanged", "onReload", "onExit"]) {
        assert.ok(where(name).length > 0 && where(name).every((p) => p === g.pid), `${name} ran in the arbiter: ${where(name)}`);
      }
      const workers = new Set(g.workerPids());
      for (const name of ["postWorkerInit", "workerExit"]) {
        assert.ok(where(name).length > 0 && where(name).every((p) => workers.has(p)), `${name} ran in workers: ${where(name)}`);
      }
      assert.deepEqual(where("workerInt").sort(), secondGeneration.sort(), "workerInt ran in each worker that got INT, and only there");
      assert.ok(lines.some((l) => l.join(" ") === `preRequest ${g.workerPids()[0]} /hooked`), "preRequest saw the Request");
      assert.ok(lines.some((l) => l.join(" ") === `postRequest ${g.workerPids()[0]} /hooked 200`), "postRequest saw the Response");
    });
  });
}
