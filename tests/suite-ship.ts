// Shipping: one compiled executable, and a user's program embedding serve(), compiled.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import process from "node:process";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { compile } from "../build.ts";
import { cleanup, fixture, freePort, gone, Guvnor, request, ROOT, tmpDir } from "./helpers.ts";

export function shipSuite(): void {
  afterEach(cleanup);

  describe("guvnor as users get it: compiled, packed, embedded", () => {
    it("one executable serves an app from disk with workers that are itself", async () => {
      const dir = tmpDir();
      const [exe] = compile(dir);
      const port = await freePort();
      const sock = path.join(dir, "guvnor.ctl");
      const g = new Guvnor("bun", ["-w", "2", "-b", `127.0.0.1:${port}`, "--control-socket", sock, fixture("app.ts")], { command: [exe] });
      await g.ready(2, `http://127.0.0.1:${port}/`);
      // guvnor ctl is the same executable.
      const ctl = spawnSync(exe, ["ctl", "-s", sock, "workers", "--json"], { encoding: "utf8" });
      assert.equal(ctl.status, 0, ctl.stderr);
      assert.deepEqual(JSON.parse(ctl.stdout).map((w: { pid: number }) => w.pid).sort(), g.workerPids().sort());
      const pids = new Set<string>();
      for (let i = 0; i < 200 && pids.size < 2; i++) pids.add((await request(`http://127.0.0.1:${port}/pid`)).body);
      assert.equal(pids.size, 2);
      for (const pid of g.workerPids()) assert.match(spawnSync("cat", [`/proc/${pid}/cmdline`]).stdout.toString(), new RegExp(path.basename(exe)));
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0, g.stderr);
      await gone(g.workerPids());
    });

    it("the npm package runs from a clean directory with bunx, npx and deno run -A npm:guvnor", async () => {
      const packDir = tmpDir();
      const pack = spawnSync("npm", ["pack", "--silent", "--pack-destination", packDir], { cwd: ROOT, encoding: "utf8" });
      assert.equal(pack.status, 0, pack.stderr);
      const tgz = path.join(packDir, pack.stdout.trim().split("\n").at(-1)!);
      // Only the package's runtime dependencies; bun and deno come from PATH, as on a user's machine.
      const env = { PATH: `${path.join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, GUVNOR_CONTROL_SOCKET: "guvnor.ctl" };
      const denoDir = tmpDir();
      fs.writeFileSync(path.join(denoDir, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }));
      const install = spawnSync("npm", ["install", "--silent", "--no-audit", "--no-fund", "--omit=dev", tgz], { cwd: denoDir, encoding: "utf8" });
      assert.equal(install.status, 0, install.stderr);
      assert.equal(fs.existsSync(path.join(denoDir, "node_modules", "bun")), false, "no dev dependency installed");
      const runners: [string, string[], string][] = [
        ["bunx", ["bunx", "--package", tgz, "guvnor"], tmpDir()],
        ["npx", ["npx", "--yes", "--package", tgz, "guvnor"], tmpDir()],
        ["deno", ["deno", "run", "-A", "npm:guvnor"], denoDir],
      ];
      for (const [name, command, cwd] of runners) {
        fs.copyFileSync(fixture("app.ts"), path.join(cwd, "app.ts"));
        const port = await freePort();
        const g = new Guvnor("bun", ["-b", `127.0.0.1:${port}`, "app.ts"], { command, cwd, env });
        await g.ready(1, `http://127.0.0.1:${port}/`).catch((e) => { throw new Error(`${name}: ${e.message}`); });
        assert.equal((await request(`http://127.0.0.1:${port}/x`)).body, "hello /x", name);
        const [arbiter] = g.arbiterPids();
        const ctl = spawnSync(command[0], [...command.slice(1), "ctl", "-s", path.join(cwd, "guvnor.ctl"), "status", "--json"], { cwd, env: { ...process.env, ...env }, encoding: "utf8" });
        assert.equal(ctl.status, 0, `${name} ctl: ${ctl.stderr}`);
        assert.equal(JSON.parse(ctl.stdout).pid, arbiter, name);
        process.kill(arbiter, "SIGTERM");
        await gone([arbiter, ...g.workerPids()]);
        await g.exit();
      }
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
