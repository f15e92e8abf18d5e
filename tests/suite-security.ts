// guvnor as root with --user, attacked from inside (the app, running as nobody) and from beside
// (another local user planting files): nothing outside guvnor's control is read, written,
// truncated or chowned, and the runtime never starts as root.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { alive, boot, cleanup, cliCommand, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

const root = process.getuid?.() === 0;
const needsRoot = !root && "needs root (CI runs as root): the attacks are on a root arbiter with --user";

/** A root-only file (0600) with a secret, in a directory nobody can list. */
function victim(): { file: string; secret: string; check: () => void } {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o711);
  const file = path.join(dir, "root-only"), secret = `SECRET-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(file, secret, { mode: 0o600 });
  return {
    file, secret,
    check() {
      const st = fs.lstatSync(file);
      assert.equal(fs.readFileSync(file, "utf8"), secret, "the root-only file was written or truncated");
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o600], "the root-only file was chowned or chmodded");
    },
  };
}

/** Whether this test run may mount a small tmpfs (root, outside a restricted container). */
function canMount(): boolean {
  const dir = tmpDir();
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8k", "tmpfs", dir], { stdio: "ignore" });
    execFileSync("umount", [dir]);
    return true;
  } catch {
    return false;
  }
}

/** A user that is a member of a group other than its own (/etc/group's member lists), if any. */
function memberUser(): { user: string; gid: number } | null {
  if (!fs.existsSync("/usr/bin/setpriv")) return null;
  const users = new Set(fs.readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")[0]));
  for (const line of fs.readFileSync("/etc/group", "utf8").split("\n")) {
    const [, , gid, members] = line.split(":");
    const user = members?.split(",").find((u) => users.has(u));
    if (user && user !== "root") return { user, gid: Number(gid) };
  }
  return null;
}

function hasScript(): boolean {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A world-writable sticky directory, as /tmp is. */
function sharedTmp(): string {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o1777);
  return dir;
}

export function securitySuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: the app and other local users cannot reach root's files`, () => {
    it("a worker planting links, directories and files at per-worker names gets nothing; guvnor leaves no file behind", { skip: needsRoot }, async () => {
      const v = victim(), shared = sharedTmp();
      const { g, base } = await boot(rt, ["--user", "nobody", "--worker-tmp-dir", shared, "--timeout", "5", "--max-requests", "40", fixture("attacker-app.ts")], 2);
      assert.equal((await request(`${base}/uid`)).body, "65534 65534");
      // The app tries to read the secret itself, then plants, then dies so the arbiter prepares new workers.
      assert.match((await request(`${base}/read?victim=${v.file}`)).body, /^refused EACCES$/);
      const planted = JSON.parse((await request(`${base}/plant?dir=${shared}&victim=${v.file}`)).body) as string[];
      assert.ok(planted.filter((p) => p.startsWith("planted")).length >= 20, planted.join(", "));
      const before = g.workerPids().length;
      await request(`${base}/die`);
      await g.waitFor(new RegExp(`(?:Booting worker with pid: \\d+[\\s\\S]*){${before + 1}}`));
      // Requests with a token in the query; 100 of them also recycle workers through max-requests.
      for (let i = 0; i < 100; i++) await request(`${base}/q?token=${v.secret}-query`);
      await g.waitFor(/Recycling worker \(pid:\d+\): max-requests reached/);
      assert.match((await request(`${base}/read?victim=${v.file}`)).body, /^refused EACCES$/);
      await stopCleanly(g);
      v.check();
      assert.doesNotMatch(g.stderr + g.stdout, new RegExp(v.secret), "the secret reached the log");
      // Only what the app planted is there: the planted files stayed empty, guvnor created nothing.
      for (const name of fs.readdirSync(shared)) {
        assert.match(name, /^guvnor-\d+-\d\.(hb|hb\.req|x)$/, `guvnor left ${name}`);
        const st = fs.lstatSync(path.join(shared, name));
        if (st.isFile()) assert.equal(st.size, 0, `${name} was written`);
        if (st.isFile()) assert.equal(st.uid, 65534, `${name} was chowned`);
      }
    });

    it("another user's links, directories and 0666 files at the old names, planted before start, change nothing", { skip: needsRoot }, async () => {
      const v = victim(), shared = sharedTmp();
      // Every arbiter pid is plausible to an attacker: plant for the pids this test is about to get.
      const first = Number(fs.readFileSync("/proc/sys/kernel/ns_last_pid", "utf8"));
      for (let pid = first + 1; pid < first + 40; pid++) {
        for (let age = 1; age <= 3; age++) {
          fs.symlinkSync(v.file, path.join(shared, `guvnor-${pid}-${age}.hb`));
          fs.mkdirSync(path.join(shared, `guvnor-${pid}-${age}.hb.req`));
        }
      }
      const { g, base } = await boot(rt, ["--user", "nobody", "--worker-tmp-dir", shared, fixture("attacker-app.ts")], 1);
      assert.match((await request(`${base}/x?token=${v.secret}`)).body, /^ok /);
      await stopCleanly(g);
      v.check();
      assert.doesNotMatch(g.stderr, /EISDIR|Unhandled/);
    });

    it("the runtime never starts as root: a bunfig.toml preload in the app directory runs as the --user", { skip: needsRoot }, async () => {
      const dir = sharedTmp(), seen = path.join(dir, "preload-uids");
      fs.writeFileSync(path.join(dir, "bunfig.toml"), `preload = ["./preload.ts"]\n`);
      fs.writeFileSync(path.join(dir, "preload.ts"), `import fs from "node:fs";\nfs.appendFileSync(${JSON.stringify(seen)}, process.getuid() + "\\n");\n`);
      fs.copyFileSync(fixture("attacker-app.ts"), path.join(dir, "app.ts"));
      for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
      const { g } = await boot(rt, ["--user", "nobody", "--runtime", "bun", "--chdir", dir, "app.ts"], 1);
      await stopCleanly(g);
      const uids = fs.readFileSync(seen, "utf8").trim().split("\n");
      assert.ok(uids.length >= 1);
      assert.deepEqual([...new Set(uids)], ["65534"], `the preload ran as uid ${uids.join(", ")}`);
    });

    it("a worker gets its user's supplementary groups (initgroups), and no others", { skip: needsRoot || !memberUser() && "no user here belongs to a supplementary group" }, async () => {
      const { user, gid } = memberUser()!;
      const dir = sharedTmp();
      fs.writeFileSync(path.join(dir, "app.ts"), `import fs from "node:fs";\nexport default { fetch: () => new Response(fs.readFileSync("/proc/self/status", "utf8").match(/^Groups:(.*)$/m)![1].trim()) };\n`);
      fs.chmodSync(path.join(dir, "app.ts"), 0o644);
      const { g, base } = await boot(rt, ["--user", user, "--chdir", dir, "app.ts"], 1);
      const groups = (await request(`${base}/`)).body.split(/\s+/);
      await stopCleanly(g);
      assert.ok(groups.includes(String(gid)), `groups ${groups} lack ${gid}`);
      assert.ok(!groups.includes("0"), "root's group leaked into the worker");
    });

    it("a worker cannot drive the operator's terminal nor read from it (TIOCSTI, /dev/tty, its stdout), though guvnor runs in one", { skip: needsRoot || !hasScript() && "no script(1) to give guvnor a terminal" }, async () => {
      const port = await freePort();
      const cli = [...cliCommand(rt), "-b", `127.0.0.1:${port}`, "--user", "nobody", "--runtime", rt, fixture("tty-app.ts")];
      // script(1) runs guvnor on a new pseudo-terminal, as an operator's shell would.
      const g = new Guvnor(rt, [], { command: ["script", "-qfec", cli.map((a) => `'${a}'`).join(" "), "/dev/null"] });
      let body = "";
      for (let i = 0; i < 100 && !body; i++, await sleep(100)) body = await request(`http://127.0.0.1:${port}/`, 1000).then((r) => r.body, () => "");
      const arbiter = Number(fs.readFileSync(`/proc/${g.pid}/task/${g.pid}/children`, "utf8").trim().split(" ")[0]);
      process.kill(arbiter, "SIGTERM");
      await g.exit();
      assert.equal(body, "pushed on []; no /dev/tty; stdout write-only, stderr write-only");
    });

    it("a worker writing NaN as its heartbeat is still killed when it falls silent", async () => {
      const { g, base } = await boot(rt, ["--timeout", "2", fixture("board-attack-app.ts")], 1);
      const [victim] = g.workerPids();
      assert.equal((await request(`${base}/nan`)).body, "wrote NaN");
      await g.waitFor(new RegExp(`WORKER TIMEOUT \\(pid:${victim}\\)`), 10_000);
      await gone([victim]);
      await stopCleanly(g);
    });

    it("a worker truncating the scoreboard it was handed cannot crash the arbiter (bunfig preload, before guvnor's code)", { skip: needsRoot }, async () => {
      const dir = sharedTmp();
      fs.writeFileSync(path.join(dir, "bunfig.toml"), `preload = ["./preload.ts"]\n`);
      fs.writeFileSync(path.join(dir, "preload.ts"), [
        `import fs from "node:fs";`,
        `const { scoreboardFd } = JSON.parse(process.env.GUVNOR_WORKER ?? "{}");`,
        `try { fs.ftruncateSync(scoreboardFd, 0); console.error("TRUNCATED"); } catch (e) { console.error("REFUSED " + e.code); }`,
      ].join("\n"));
      fs.copyFileSync(fixture("board-attack-app.ts"), path.join(dir, "app.ts"));
      for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
      const { g, base } = await boot(rt, ["--user", "nobody", "--runtime", "bun", "--chdir", dir, "app.ts"], 1);
      await sleep(1500); // a few of the arbiter's reads of the scoreboard
      assert.equal((await request(`${base}/`)).body, "ok");
      await stopCleanly(g);
      assert.match(g.stderr, /REFUSED|TRUNCATED/);
      assert.doesNotMatch(g.stderr, /TRUNCATED/);
    });

    it("descriptors the arbiter inherited (a shell redirection) never reach a worker", async () => {
      const secret = victim();
      const port = await freePort();
      const cli = [...cliCommand(rt), "-b", `127.0.0.1:${port}`, fixture("board-attack-app.ts")].map((a) => `'${a}'`).join(" ");
      const g = new Guvnor(rt, [], { command: ["bash", "-c", `exec 200<'${secret.file}'; exec ${cli}`] });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      const fds = (await request(`http://127.0.0.1:${port}/fds`)).body.split(" ").map(Number);
      assert.ok(!fds.includes(200), `the worker holds fd 200: ${fds}`);
      await stopCleanly(g);
    });

    it("a worker that shuts the shared listening sockets down (twice) takes them away for a moment only, TCP and unix", async () => {
      const sock = path.join(tmpDir(), "app.sock");
      // A Deno worker whose listener was broken under it takes its whole graceful timeout to stop.
      const { g, base } = await boot(rt, ["-b", `unix:${sock}`, "--graceful-timeout", "2", fixture("shut-app.ts")], 2);
      await request(`${base}/shut`).catch(() => undefined);
      await g.waitFor(/had stopped listening \(a worker shut it down\?\)[\s\S]*had stopped listening \(a worker shut it down\?\)/, 10_000);
      const answers = async (target: string | { url: string; socketPath: string }) => {
        let body = "";
        for (let i = 0; i < 50 && body !== "ok"; i++, await sleep(100)) body = await request(target, 1000).then((r) => r.body, () => "");
        return body;
      };
      assert.equal(await answers(`${base}/`), "ok");
      assert.equal(await answers({ url: "http://localhost/", socketPath: sock }), "ok");
      // And go on answering: a listener that only listens again would reset what it accepts.
      for (let i = 0; i < 10; i++) assert.equal((await request(`${base}/`)).body, "ok");
      await stopCleanly(g);
    });

    it("--check-config --user imports the app as the user, never as root", { skip: needsRoot }, async () => {
      const dir = sharedTmp(), seen = path.join(dir, "uid");
      const g = new Guvnor(rt, ["--check-config", "--user", "nobody", fixture("uid-at-import-app.ts")], { env: { UID_FILE: seen } });
      assert.equal((await g.exit()).code, 0, g.stderr);
      assert.equal(fs.readFileSync(seen, "utf8"), "65534");
    });

    it("files planted at the names older versions gave a worker's throw-away unix socket change nothing", { skip: needsRoot }, async () => {
      const first = Number(fs.readFileSync("/proc/sys/kernel/ns_last_pid", "utf8"));
      const planted: string[] = [];
      for (let pid = first + 1; pid < first + 60; pid++) {
        const p = path.join(os.tmpdir(), `guvnor-${pid}-0.sock`);
        if (!fs.existsSync(p)) fs.writeFileSync(p, ""), planted.push(p);
      }
      try {
        const sock = path.join(sharedTmp(), "app.sock");
        const g = new Guvnor(rt, ["-b", `unix:${sock}`, "--user", "nobody", "--umask", "0", fixture("app.ts")]);
        await g.waitFor(/Using worker: fetch \((native|compat)\)/);
        assert.match(g.stderr, /Using worker: fetch \(native\)/);
        g.signal("SIGTERM");
        assert.equal((await g.exit()).code, 0);
      } finally {
        for (const p of planted) fs.rmSync(p, { force: true });
      }
    });

    it("idle or dribbling clients of --metrics-bind can neither pile up in the arbiter nor keep a probe out", async () => {
      const mport = await freePort();
      const { g } = await boot(rt, ["--metrics-bind", `127.0.0.1:${mport}`, fixture("app.ts")], 1);
      let closed = 0;
      const sockets = await Promise.all(Array.from({ length: 48 }, () => new Promise<net.Socket>((resolve) => {
        const s = net.connect(mport, "127.0.0.1", () => resolve(s));
        s.resume().once("close", () => closed++).on("error", () => resolve(s));
      })));
      await sleep(500);
      assert.ok(closed >= 16, `only ${closed} of 48 idle connections were let go`);
      // While the rest still hold on, a probe gets its answer (the oldest makes way).
      assert.equal((await request(`http://127.0.0.1:${mport}/healthz`, 2000)).status, 200);
      for (const s of sockets) s.destroy();
      await stopCleanly(g);
    });

    it("a full --worker-tmp-dir is one clear error at start, never a SIGBUS in a worker", { skip: needsRoot || !canMount() && "cannot mount a tmpfs here" }, async () => {
      const dir = tmpDir();
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=8k", "tmpfs", dir]);
      try {
        try {
          fs.writeFileSync(path.join(dir, "fill"), Buffer.alloc(64 * 1024));
        } catch { /* full: that is the point */ }
        const g = new Guvnor(rt, ["-b", "127.0.0.1:0", "--worker-tmp-dir", dir, fixture("app.ts")]);
        const exit = await g.exit();
        assert.notEqual(exit.code, 0);
        assert.match(g.stderr, /--worker-tmp-dir .*: can't create a worker's scoreboard there: (ENOSPC|EDQUOT)/);
        assert.doesNotMatch(g.stderr, /SIGBUS|Booting worker/);
      } finally {
        execFileSync("umount", [dir]);
      }
    });

    it("leaves no per-worker file in the temp dir, by default either", async () => {
      const { g, base } = await boot(rt, [fixture("app.ts")], 1);
      await request(`${base}/hello`);
      const mine = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`guvnor-${g.pid}-`));
      assert.deepEqual(mine(), []);
      await stopCleanly(g);
      await sleep(50);
      assert.deepEqual(mine(), []);
    });
  });

  describe(`guvnor on ${rt}: process hygiene`, () => {
    it("what the app forks stops with its worker: on a worker's SIGKILL and on the arbiter's TERM", async () => {
      const { g, base } = await boot(rt, [fixture("fork-app.ts")], 1);
      const [worker, child] = (await request(`${base}/fork`)).body.split(" ").map(Number);
      assert.ok(alive(child));
      process.kill(worker, "SIGKILL");
      await gone([worker, child]);
      await g.waitFor(/Booting worker with pid: \d+[\s\S]*Booting worker with pid: \d+/);
      await sleep(300);
      const [, second] = (await request(`${base}/fork`)).body.split(" ").map(Number);
      assert.ok(alive(second));
      await stopCleanly(g);
      await gone([second]);
    });
  });
}
