// How workers start and how the arbiter ends: a worker serves only once it says so, and every way
// out of the arbiter stops the workers, closes the sockets and removes the pid file.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { boot, cleanup, fixture, gone, Guvnor, type RuntimeName, sleep, tmpDir } from "./helpers.ts";

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
  });
}
