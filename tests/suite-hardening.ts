// Files and limits a local user or a typo could abuse: the pid file, unbounded settings, unix
// socket modes, and what the command line says about bad input.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { boot, cleanup, fixture, Guvnor, request, type RuntimeName, stopCleanly, tmpDir } from "./helpers.ts";

const APP = fixture("app.ts");

export function hardeningSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: files others could plant`, () => {
    it("a pid file path planted as a symlink is replaced, its target untouched", async () => {
      const dir = tmpDir();
      const target = path.join(dir, "precious");
      const pidfile = path.join(dir, "guvnor.pid");
      fs.writeFileSync(target, "precious\n");
      fs.symlinkSync(target, pidfile);
      const { g } = await boot(rt, ["-p", pidfile, APP]);
      const st = fs.lstatSync(pidfile);
      assert.ok(st.isFile(), "the pid file is a regular file, not the planted link");
      assert.equal(st.mode & 0o777, 0o644);
      assert.equal(fs.readFileSync(pidfile, "utf8"), `${g.pid}\n`);
      assert.equal(fs.readFileSync(target, "utf8"), "precious\n", "the link's target was not written");
      assert.deepEqual(fs.readdirSync(dir).sort(), ["guvnor.pid", "precious"], "no temporary file left");
      await stopCleanly(g);
      assert.equal(fs.existsSync(pidfile), false, "removed at exit");
      assert.equal(fs.readFileSync(target, "utf8"), "precious\n");
    });

    it("a pid file that no longer holds our pid is left at exit", async () => {
      const pidfile = path.join(tmpDir(), "guvnor.pid");
      const { g } = await boot(rt, ["-p", pidfile, APP]);
      fs.writeFileSync(pidfile, "someone else's\n");
      await stopCleanly(g);
      assert.equal(fs.readFileSync(pidfile, "utf8"), "someone else's\n");
    });
  });

  describe(`guvnor on ${rt}: bounds`, () => {
    /** Exits 1 with exactly one line on stderr, and never started a worker. */
    const refused = async (g: Guvnor, line: RegExp) => {
      const exit = await g.exit();
      assert.equal(exit.code, 1, g.stderr);
      assert.match(g.stderr, line);
      assert.equal(g.stderr.trim().split("\n").length, 1, `one line:\n${g.stderr}`);
      assert.doesNotMatch(g.stderr + g.stdout, /Booting worker/);
    };

    it("-w 100000 is one line naming the value and the maximum, and spawns nothing", async () => {
      await refused(new Guvnor(rt, ["-w", "100000", APP]), /^Error: --workers is 100000, above the maximum of \d+ \(8 per CPU, at least 16; raise it with --max-workers\)$/m);
    });

    it("workers: 1e9 in a config file is refused the same way", async () => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, "guvnor.config.json"), JSON.stringify({ workers: 1e9 }));
      await refused(new Guvnor(rt, [APP], { cwd: dir }), /^Error: workers in guvnor\.config\.json is 1000000000, above the maximum of \d+ /);
    });

    it("a --bind that cannot be bound is one line naming it, before anything starts", async () => {
      await refused(new Guvnor(rt, ["-b", "nonsense", APP]), /\[ERROR\] Can't bind nonsense: the host name does not resolve$/m);
      // 192.0.2.1 is a documentation address no machine has: binding it fails without any traffic.
      await refused(new Guvnor(rt, ["-b", "192.0.2.1:8000", APP]), /\[ERROR\] Can't bind 192\.0\.2\.1:8000: this machine has no such address$/m);
    });

    it("a duration that would overflow a timer is refused", async () => {
      await refused(new Guvnor(rt, ["--graceful-timeout", "3000000", APP]), /^Error: --graceful-timeout must be 0 to 86400 seconds \(got "3000000"\)$/m);
    });
  });

  describe(`guvnor on ${rt}: unix sockets`, () => {
    it("without --umask, a unix socket is not connectable by other users", async () => {
      const sock = path.join(tmpDir(), "app.sock");
      const g = new Guvnor(rt, ["-b", `unix:${sock}`, APP]);
      await g.ready(1, { url: "http://localhost/", socketPath: sock });
      assert.equal(fs.statSync(sock).mode & 0o007, 0, `socket mode ${(fs.statSync(sock).mode & 0o777).toString(8)}: others must get no bits`);
      assert.equal((await request({ url: "http://localhost/hi", socketPath: sock })).body, "hello /hi");
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: the command line`, () => {
    it("--help piped into another program has no colour codes", async () => {
      // Without citty's own reasons to drop colours (CI, TEST, TERM=dumb): only the pipe says so.
      const g = new Guvnor(rt, ["--help"], { env: { CI: "", TEST: "", TERM: "xterm", NO_COLOR: "" } });
      assert.equal((await g.exit()).code, 0, g.stderr);
      assert.match(g.stdout, /--workers/);
      assert.ok(!g.stdout.includes("\x1b["), "no escape sequence");
    });

    it("-w -1 gets guvnor's own message, not the argument parser's", async () => {
      const g = new Guvnor(rt, ["-w", "-1", APP]);
      assert.equal((await g.exit()).code, 1);
      assert.equal(g.stderr, 'Error: --workers must be a positive integer (got "-1")\n');
    });
  });
}
