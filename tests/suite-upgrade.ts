// USR2 hot upgrade: a new arbiter on the same sockets, gunicorn's pid file dance,
// and a continuous client that sees no failure through the whole procedure.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { alive, cleanup, continuousLoad, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, tmpDir } from "./helpers.ts";

const readPid = (file: string) => Number(fs.readFileSync(file, "utf8").trim());

export function upgradeSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: USR2 hot upgrade`, () => {
    it("USR2, WINCH and TERM the old arbiter under load: zero failed requests", async () => {
      const dir = tmpDir(), pidfile = path.join(dir, "guvnor.pid"), port = await freePort();
      const g = new Guvnor(rt, ["-w", "2", "-b", `127.0.0.1:${port}`, "-p", pidfile, fixture("app.ts")]);
      const base = `http://127.0.0.1:${port}`;
      await g.ready(2, `${base}/`);
      const oldWorkers = g.workerPids();
      const load = continuousLoad(`${base}/pid`, 4);
      await sleep(300);

      g.signal("SIGUSR2");
      const child = Number((await g.waitFor(/Started new arbiter \(pid: (\d+)\)/))[1]);
      await g.waitFor(new RegExp(`\\[${child}\\] \\[INFO\\] Using 1 socket from the previous arbiter`));
      while (g.workerPids().length < 4) await sleep(20);
      await sleep(300);
      assert.equal(readPid(`${pidfile}.oldbin`), g.pid);
      assert.equal(readPid(`${pidfile}.2`), child);

      g.signal("SIGWINCH"); // the old workers finish and go; the new ones serve
      await gone(oldWorkers, 10_000);
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0);
      // The new arbiter, now orphaned, still writes to our stderr pipe.
      await g.waitFor(new RegExp(`\\[${child}\\] \\[INFO\\] Master has been promoted\\.`), 5000, "stderr", true);
      assert.equal(readPid(pidfile), child);
      assert.equal(fs.existsSync(`${pidfile}.oldbin`), false);
      await sleep(300);
      const r = await load.stop();
      assert.equal(r.failed, 0, r.errors.slice(0, 5).join(", "));
      process.stdout.write(`# ${rt}: USR2 upgrade under load: ${r.ok} requests, ${r.failed} failed\n`);
      const newWorkers = g.workerPids().slice(2).map(String);
      assert.ok(newWorkers.includes((await request(`${base}/pid`)).body));

      process.kill(child, "SIGTERM");
      const end = Date.now() + 10_000;
      while (alive(child) && Date.now() < end) await sleep(50);
      assert.ok(!alive(child));
      await gone(g.workerPids());
      assert.equal(fs.existsSync(pidfile), false, "pid file removed by the promoted arbiter");
    });

    it("if the new arbiter dies, the old one keeps serving and takes its pid file back", async () => {
      const dir = tmpDir(), pidfile = path.join(dir, "guvnor.pid"), port = await freePort();
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-p", pidfile, fixture("app.ts")]);
      await g.ready(1, `http://127.0.0.1:${port}/`);
      g.signal("SIGUSR2");
      const child = Number((await g.waitFor(/Started new arbiter \(pid: (\d+)\)/))[1]);
      while (g.workerPids().length < 2) await sleep(20);
      process.kill(child, "SIGKILL");
      await g.waitFor(/New arbiter exited \(SIGKILL\); this one carries on/);
      assert.equal(readPid(pidfile), g.pid);
      assert.equal((await request(`http://127.0.0.1:${port}/hello`)).body, "hello /hello");
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0);
    });
  });
}
