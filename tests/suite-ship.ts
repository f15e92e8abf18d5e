// Shipping (issue 5): one compiled executable, and a user's program embedding serve(), compiled.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { compile } from "../build.ts";
import { cleanup, fixture, freePort, gone, Guvnor, request, ROOT, tmpDir } from "./helpers.ts";

export function shipSuite(): void {
  afterEach(cleanup);

  describe("guvnor compiled with bun build --compile", () => {
    it("one executable serves an app from disk with workers that are itself", async () => {
      const dir = tmpDir();
      const [exe] = compile(dir);
      const port = await freePort();
      const g = new Guvnor("bun", ["-w", "2", "-b", `127.0.0.1:${port}`, fixture("app.ts")], { command: [exe] });
      await g.ready(2, `http://127.0.0.1:${port}/`);
      const pids = new Set<string>();
      for (let i = 0; i < 200 && pids.size < 2; i++) pids.add((await request(`http://127.0.0.1:${port}/pid`)).body);
      assert.equal(pids.size, 2);
      for (const pid of g.workerPids()) assert.match(spawnSync("cat", [`/proc/${pid}/cmdline`]).stdout.toString(), new RegExp(path.basename(exe)));
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0, g.stderr);
      await gone(g.workerPids());
    });

    it("a user's program that embeds serve() works unchanged when compiled", async () => {
      const dir = tmpDir(), exe = path.join(dir, "embed");
      const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "bun"), ["build", "--compile", "examples/embed.ts", "--outfile", exe], { cwd: ROOT });
      assert.equal(r.status, 0, String(r.stderr));
      const port = await freePort();
      const g = new Guvnor("bun", [], { command: [exe], env: { GUVNOR_BIND: `127.0.0.1:${port}` }, cwd: dir });
      await g.ready(2, `http://127.0.0.1:${port}/`);
      assert.match((await request(`http://127.0.0.1:${port}/x`)).body, /^embedded app, worker \d+, \/x\n$/);
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0, g.stderr);
      await gone(g.workerPids());
    });
  });
}
