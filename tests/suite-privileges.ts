// --user/--group: the arbiter binds as root (port 80 too), the workers run as nobody.
import assert from "node:assert/strict";
import fs from "node:fs";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { cleanup, fixture, gone, Guvnor, request, type RuntimeName } from "./helpers.ts";

const uidOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^Uid:\s+(\d+)/m)![1]);

export function privilegesSuite(rt: RuntimeName): void {
  afterEach(cleanup);
  const root = process.getuid?.() === 0;

  describe(`guvnor on ${rt}: privilege drop`, () => {
    it("binds port 80 as root and runs the workers as nobody", { skip: !root && "needs root" }, async () => {
      const host = `127.0.${Math.floor(Math.random() * 200) + 20}.${Math.floor(Math.random() * 200) + 20}`;
      const g = new Guvnor(rt, ["-w", "2", "-b", `${host}:80`, "--user", "nobody", "--group", "nogroup", fixture("app.ts")]);
      await g.ready(2, `http://${host}:80/`);
      assert.equal(uidOf(g.pid), 0, "the arbiter keeps root");
      for (const w of g.workerPids()) assert.equal(uidOf(w), 65534, `worker ${w} runs as nobody`);
      assert.match((await request(`http://${host}:80/hello`)).body, /hello/);
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0, g.stderr);
      await gone(g.workerPids());
    });

    it("an unknown user is one clear error", async () => {
      const g = new Guvnor(rt, ["--user", "no-such-user-here", fixture("app.ts")]);
      assert.equal((await g.exit()).code, 1);
      assert.match(g.stderr, /^Error: --user: no such user "no-such-user-here" in \/etc\/passwd$/m);
    });
  });
}
