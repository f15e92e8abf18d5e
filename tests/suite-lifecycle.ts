// How workers start and how the arbiter ends: a worker serves only once it says so, and every way
// out of the arbiter stops the workers, closes the sockets and removes the pid file.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { boot, cleanup, fixture, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

export function lifecycleSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: readiness and the way out`, () => {
    it("a custom worker that never notifies is never counted as serving, and --boot-timeout kills it", async () => {
      const dir = tmpDir(), hooks = path.join(dir, "guvnor.config.ts");
      fs.writeFileSync(hooks, `export default { whenReady() { console.error("WHEN-READY RAN"); } };\n`);
      const g = new Guvnor(rt, ["-b", "127.0.0.1:0", "-c", hooks, "--boot-timeout", "1", "-k", `${fixture("bad-workers.ts")}:NeverReady`, fixture("app.ts")]);
      const [, pid] = await g.waitFor(/WORKER BOOT TIMEOUT \(pid:(\d+)\): not serving 1 s after it was spawned/, 10_000);
      await gone([Number(pid)]);
      assert.doesNotMatch(g.stderr, /WHEN-READY RAN/);
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0);
    });

    it("an error nobody expected (its scoreboard directory vanished) stops every worker and removes the pid file", async () => {
      const tmp = tmpDir(), pidfile = path.join(tmpDir(), "guvnor.pid");
      const { g } = await boot(rt, ["-p", pidfile, "--worker-tmp-dir", tmp, fixture("app.ts")], 2);
      const workers = g.workerPids();
      assert.equal(fs.readFileSync(pidfile, "utf8").trim(), String(g.pid));
      fs.rmSync(tmp, { recursive: true });
      process.kill(workers[0], "SIGKILL"); // its replacement cannot get a scoreboard
      const exit = await g.exit();
      assert.notEqual(exit.code, 0);
      assert.match(g.stderr, /Can't start a worker: .*ENOENT/);
      await gone(workers);
      assert.equal(fs.existsSync(pidfile), false, "pid file left behind");
      await sleep(10);
    });

    it("a .env in the app directory: Bun workers load it themselves, afresh on HUP; Deno workers do not; the arbiter passes none on", async () => {
      const dir = tmpDir(), dotenv = path.join(dir, ".env");
      fs.copyFileSync(fixture("env-app.ts"), path.join(dir, "app.ts"));
      fs.writeFileSync(dotenv, "FROM_DOTENV=one\n");
      // Started in the app directory, where a Bun arbiter loads the .env for itself too.
      const bun = await boot(rt, ["--runtime", "bun", "app.ts"], 1, { cwd: dir });
      assert.equal((await request(`${bun.base}/`)).body, "one");
      fs.writeFileSync(dotenv, "FROM_DOTENV=two\n");
      bun.g.signal("SIGHUP");
      let seen = "";
      for (let i = 0; i < 100 && seen !== "two"; i++, await sleep(100)) seen = (await request(`${bun.base}/`)).body;
      assert.equal(seen, "two", "HUP kept the old value");
      await stopCleanly(bun.g);
      const deno = await boot(rt, ["--runtime", "deno", "app.ts"], 1, { cwd: dir });
      assert.equal((await request(`${deno.base}/`)).body, "-", "a Deno worker got the .env the arbiter's runtime loaded");
      await stopCleanly(deno.g);
    });

    it("--check-config imports the app on the workers' runtime, not the arbiter's", async () => {
      const onBun = new Guvnor(rt, ["--check-config", "--runtime", "bun", fixture("bun-only-app.ts")]);
      assert.equal((await onBun.exit()).code, 0, onBun.stderr);
      assert.match(onBun.stdout + onBun.stderr, /Config OK/);
      const onDeno = new Guvnor(rt, ["--check-config", "--runtime", "deno", fixture("bun-only-app.ts")]);
      assert.equal((await onDeno.exit()).code, 1, onDeno.stdout + onDeno.stderr);
      assert.match(onDeno.stderr, /Bun is not defined|Cannot read properties of undefined|undefined is not an object/);
    });

    it("a .env where guvnor starts does not steer guvnor's own settings", async () => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, ".env"), "GUVNOR_WORKERS=3\nGUVNOR_USER=root\n");
      const g = new Guvnor(rt, ["--print-config", fixture("app.ts")], { cwd: dir });
      assert.equal((await g.exit()).code, 0, g.stderr);
      assert.match(g.stdout, /^workers\s+= 1$/m);
      assert.match(g.stdout, /^user\s+= ""$/m);
    });

    it("an app that exits 0 at import is not respawned in a busy loop, and the log says so", async () => {
      const g = new Guvnor(rt, ["-b", "127.0.0.1:0", fixture("exits-at-import.ts")]);
      await g.waitFor(/Workers are dying right after they start; next spawn in \d+(\.\d+)? s/, 15_000);
      const boots = g.workerPids().length;
      assert.ok(boots <= 12, `${boots} workers started before the delay reached a second`);
      assert.match(g.stderr, /Worker \(pid:\d+\) exited on its own \(code 0\)/);
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0);
    });

    for (const [flag, value] of [["--access-logfile", "/nonexistent/a.log"], ["--error-logfile", "/nonexistent/x"], ["--worker-tmp-dir", "/nonexistent"]]) {
      it(`${flag} ${value} is one line naming it, exit 1, no worker`, async () => {
        const g = new Guvnor(rt, ["-b", "127.0.0.1:0", flag, value, fixture("app.ts")]);
        assert.equal((await g.exit()).code, 1);
        const errors = g.stderr.split("\n").filter((l) => /ERROR|Error:/.test(l));
        assert.equal(errors.length, 1, g.stderr);
        assert.ok(errors[0].includes(flag) && errors[0].includes(value), errors[0]);
        assert.doesNotMatch(g.stderr, /Booting worker|at .*\.ts:\d+/);
      });
    }
  });
}
