// systemd: socket activation and sd_notify, without systemd as PID 1:
// systemd-socket-activate (Debian's systemd package) hands guvnor the sockets.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, it } from "node:test";
import { cleanup, cliCommand, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, tmpDir } from "./helpers.ts";

/** A NOTIFY_SOCKET that records what guvnor says. */
function notifyReceiver(): { path: string; lines: () => string[]; ready: Promise<void>; stop: () => void } {
  const sock = path.join(tmpDir(), "notify.sock");
  const child: ChildProcess = spawn("python3", [fixture("notify-receiver.py"), sock], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const ready = new Promise<void>((r) => child.stdout!.on("data", (d) => { out += d; if (out.startsWith("listening")) r(); }));
  return { path: sock, lines: () => out.split("\n").slice(1).filter(Boolean), ready, stop: () => child.kill("SIGKILL") };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The first request, retried while systemd-socket-activate is not listening yet. */
async function firstRequest(target: Parameters<typeof request>[0]): ReturnType<typeof request> {
  for (let i = 0; ; i++) {
    try {
      return await request(target);
    } catch (err) {
      if (i > 100 || !/ECONNREFUSED|ENOENT/.test(String((err as { code?: string }).code))) throw err;
      await sleep(50);
    }
  }
}

export function systemdSuite(rt: RuntimeName): void {
  let receiver: ReturnType<typeof notifyReceiver> | undefined;
  afterEach(async () => {
    receiver?.stop();
    await cleanup();
  });

  describe(`guvnor on ${rt}: systemd`, () => {
    it("adopts socket-activated TCP sockets and tells systemd READY, RELOADING, STOPPING", async () => {
      receiver = notifyReceiver();
      await receiver.ready;
      const port = await freePort();
      // systemd-socket-activate passes on only the variables given with -E.
      const g = new Guvnor(rt, ["-w", "2", fixture("app.ts")], {
        command: ["systemd-socket-activate", "-l", `127.0.0.1:${port}`, "-E", `NOTIFY_SOCKET=${receiver.path}`, ...cliCommand(rt)],
      });
      // It starts guvnor on the first connection, which waits in the backlog meanwhile.
      assert.match((await firstRequest(`http://127.0.0.1:${port}/hello`)).body, /hello \/hello/);
      await g.ready(2);
      assert.match(g.stderr, /Using 1 socket from systemd socket activation/);
      assert.match(g.stderr, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} \\(${g.pid}\\)`));
      await until("READY=1", () => receiver!.lines().some((l) => l.startsWith("READY=1")));
      assert.ok(receiver.lines().find((l) => l.startsWith("READY=1"))!.includes(`MAINPID=${g.pid}`));
      g.signal("SIGHUP");
      await g.waitFor(/Reloaded/);
      await until("RELOADING then READY", () => receiver!.lines().filter((l) => l.startsWith("READY=1")).length >= 2);
      assert.ok(receiver.lines().some((l) => /^RELOADING=1\|MONOTONIC_USEC=\d+$/.test(l)));
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0, g.stderr);
      await until("STOPPING=1", () => receiver!.lines().includes("STOPPING=1"));
      await gone(g.workerPids());
    });

    it("never unlinks a socket-activated unix socket", async () => {
      const sock = path.join(tmpDir(), "activated.sock");
      const g = new Guvnor(rt, [fixture("app.ts")], { command: ["systemd-socket-activate", "-l", sock, ...cliCommand(rt)] });
      await until("the socket file", () => fs.existsSync(sock));
      assert.equal((await firstRequest({ url: "http://localhost/x", socketPath: sock })).body, "hello /x");
      await g.ready(1);
      assert.match(g.stderr, new RegExp(`Listening at: unix:${sock} `));
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0, g.stderr);
      assert.ok(fs.existsSync(sock), "systemd's socket file is left alone");
    });

    it("sends WATCHDOG=1 when WATCHDOG_USEC is set", async () => {
      receiver = notifyReceiver();
      await receiver.ready;
      const port = await freePort();
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, fixture("app.ts")], { env: { NOTIFY_SOCKET: receiver.path, WATCHDOG_USEC: "400000" } });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      await until("two WATCHDOG=1", () => receiver!.lines().filter((l) => l === "WATCHDOG=1").length >= 2, 5000);
      g.signal("SIGTERM");
      await g.exit();
    });
  });
}
