// Seeing and steering a running guvnor: the control socket and `guvnor ctl`, /metrics, /healthz,
// /readyz, and JSON logs — all against the real CLI.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { boot, cleanup, cliCommand, continuousLoad, fixture, freePort, gone, Guvnor, request, type RuntimeName, sleep, stopCleanly, tmpDir } from "./helpers.ts";

const APP = fixture("observe-app.ts");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `guvnor ctl -s SOCK ARGS…` on `rt`. */
export function ctl(rt: RuntimeName, sock: string, ...args: string[]): Promise<Run> {
  const [cmd, ...pre] = cliCommand(rt);
  return new Promise((resolve) => {
    execFile(cmd, [...pre, "ctl", "-s", sock, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
  });
}

async function ctlJson<T>(rt: RuntimeName, sock: string, cmd: string): Promise<T> {
  const r = await ctl(rt, sock, cmd, "--json");
  assert.equal(r.code, 0, `ctl ${cmd}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Row {
  pid: number;
  age: number;
  generation: number;
  state: string;
  requests: number | null;
  in_flight: number | null;
  rss_bytes: number | null;
  uptime_s: number;
}

/** Polls `workers --json` until `ok(rows)`, or fails with the last rows. */
async function workersUntil(rt: RuntimeName, sock: string, ok: (rows: Row[]) => boolean, timeoutMs = 15_000): Promise<Row[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ctlJson<Row[]>(rt, sock, "workers");
    if (ok(rows)) return rows;
    if (Date.now() > end) throw new Error(`workers never matched: ${JSON.stringify(rows)}`);
    await sleep(200);
  }
}

/** Inode of the unix socket bound at `file`, from /proc/net/unix. */
function unixInode(file: string): string {
  const line = fs.readFileSync("/proc/net/unix", "utf8").split("\n").find((l) => l.endsWith(` ${file}`));
  assert.ok(line, `${file} not in /proc/net/unix`);
  return line.trim().split(/\s+/)[6];
}

/** The socket inodes a process holds. */
function socketInodes(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/)?.[1];
    } catch {
      return undefined;
    }
  }).filter((x): x is string => x !== undefined);
}

/** Parses Prometheus text: every line a comment or `name{labels} value`; returns samples by name+labels. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/);
    assert.ok(m, `not Prometheus text: ${JSON.stringify(line)}`);
    out.set(m[1] + (m[2] ?? ""), Number(m[3]));
  }
  return out;
}

export function observeSuite(rt: RuntimeName): void {
  afterEach(cleanup);

  describe(`guvnor on ${rt}: control socket and guvnor ctl`, () => {
    it("status, workers, scale, kill under load, bad input, stop; JSON logs", async () => {
      const dir = tmpDir(), port = await freePort(), sock = path.join(dir, "guvnor.ctl"), base = `http://127.0.0.1:${port}`;
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-w", "2", "--control-socket", "guvnor.ctl", "--log-format", "json", "--access-logfile", "-", APP], { cwd: dir });
      await g.ready(2, `${base}/`);
      const st = fs.lstatSync(sock);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.uid, process.getuid!());

      const status = await ctlJson<{ pid: number; workers: number; listeners: string[] }>(rt, sock, "status");
      assert.equal(status.pid, g.pid);
      assert.deepEqual(status.listeners, [base]);
      let rows = await workersUntil(rt, sock, (r) => r.length === 2 && r.every((w) => w.state === "serving"));
      assert.deepEqual(rows.map((w) => w.pid).sort(), g.workerPids().sort());
      for (const w of rows) {
        for (const k of ["pid", "age", "generation", "uptime_s"] as const) assert.equal(typeof w[k], "number");
        for (const k of ["requests", "in_flight", "rss_bytes"] as const) assert.ok(w[k] === null || typeof w[k] === "number");
        assert.ok(w.rss_bytes! > 1_000_000, `rss ${w.rss_bytes}`);
      }
      const table = await ctl(rt, sock, "workers");
      assert.match(table.stdout, /^\s*PID\s+AGE\s+GEN\s+STATE/);

      // scale 3: three workers serve, and every pid that answers a request is one of them.
      assert.equal((await ctl(rt, sock, "scale", "3")).code, 0);
      rows = await workersUntil(rt, sock, (r) => r.length === 3 && r.every((w) => w.state === "serving"));
      const pids = new Set(rows.map((w) => String(w.pid)));
      for (let i = 0; i < 12; i++) assert.ok(pids.has((await request(`${base}/`)).body));
      const counted = await ctlJson<Row[]>(rt, sock, "workers");
      assert.equal(counted.reduce((n, w) => n + (w.requests ?? 0), 0), 13, "every request so far, by the workers that served it");
      assert.ok(counted.every((w) => w.in_flight === 0));

      // Workers never hold the control socket: they run the app, as --user.
      const inode = unixInode(sock);
      for (const w of rows) assert.ok(!socketInodes(w.pid).includes(inode), `worker ${w.pid} holds the control socket`);

      // kill PID under a request loop: replaced, nothing failed.
      const busiest = counted.reduce((a, b) => ((b.requests ?? 0) > (a.requests ?? 0) ? b : a));
      assert.ok(busiest.requests! > 0);
      const victim = String(busiest.pid); // it has served: its replacement must take over its share
      const load = continuousLoad(`${base}/`, 2);
      await sleep(300);
      const k = await ctl(rt, sock, "kill", victim);
      assert.equal(k.code, 0, k.stderr);
      await gone([Number(victim)], 10_000);
      rows = await workersUntil(rt, sock, (r) => r.length === 3 && r.every((w) => w.state === "serving" && String(w.pid) !== victim));
      const r = await load.stop();
      assert.equal(r.failed, 0, r.errors.slice(0, 5).join(", "));
      assert.ok(r.ok > 0);
      const stats = await ctlJson<{ restarts: Record<string, number>; requests: number; by_status: Record<string, number> }>(rt, sock, "stats");
      assert.equal(stats.restarts.ctl, 1);
      // The replaced worker's requests still count: totals never go down.
      assert.equal(stats.requests, 13 + r.ok);
      assert.equal(stats.by_status["2xx"], 13 + r.ok);

      // Bad input: one line, exit 1; no socket: one line naming the path, exit 2.
      for (const args of [["bogus"], ["scale", "x"], ["scale", "100000"], ["kill", "1"], ["remove", "9"]]) {
        const bad = await ctl(rt, sock, ...args);
        assert.equal(bad.code, 1, `${args.join(" ")}: ${bad.stderr}`);
        assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
      }
      const missing = path.join(dir, "nope.ctl");
      const dead = await ctl(rt, missing, "status");
      assert.equal(dead.code, 2);
      assert.equal(dead.stderr.trim().split("\n").length, 1);
      assert.ok(dead.stderr.includes(missing), dead.stderr);

      // stop: ctl waits for the arbiter, both exit 0, the socket file is gone.
      const stop = await ctl(rt, sock, "stop");
      assert.equal(stop.code, 0, stop.stderr);
      assert.deepEqual(await g.exit(), { code: 0, signal: null });
      await gone(g.workerPids());
      assert.equal(fs.existsSync(sock), false);

      // --log-format json: every error-log line and access-log line is one JSON object.
      const errLines = g.stderr.trim().split("\n").map((l) => JSON.parse(l));
      for (const l of errLines) assert.deepEqual(["level", "message", "pid", "time"], Object.keys(l).filter((x) => x !== "tag").sort());
      assert.ok(errLines.some((l) => l.message === `Control socket: ${sock}`));
      const access = g.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.ok(access.length >= 12);
      assert.equal(access[0].method, "GET");
      for (const key of ["time", "remote_addr", "path", "status", "bytes", "duration_s", "user_agent", "referer"]) assert.ok(key in access[0], key);
    });

    it("the control socket is guvnor.ctl after --chdir, keeps working through a USR2 upgrade; a path that cannot be made is a warning", async () => {
      const dir = tmpDir(), port = await freePort(), sock = path.join(dir, "app", "guvnor.ctl");
      fs.mkdirSync(path.join(dir, "app"));
      // The default: guvnor.ctl in the directory guvnor runs in, after --chdir.
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "--chdir", "app", APP], { cwd: dir, controlSocket: "default" });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      assert.equal((await ctl(rt, sock, "upgrade")).code, 0);
      const child = Number((await g.waitFor(/Started new arbiter \(pid: (\d+)\)/))[1]);
      await g.waitFor(/Control socket: .* \(from the previous arbiter\)/);
      let s = await ctlJson<{ pid: number; upgrade_child: number }>(rt, sock, "status");
      assert.deepEqual([s.pid, s.upgrade_child], [g.pid, child]);
      // The old arbiter goes; every ctl call in between is answered, soon by the new one.
      g.signal("SIGTERM");
      const end = Date.now() + 10_000;
      do {
        s = await ctlJson(rt, sock, "status");
        await sleep(100);
      } while (s.pid !== child && Date.now() < end);
      assert.equal(s.pid, child);
      assert.equal((await g.exit()).code, 0);
      const stop = await ctl(rt, sock, "stop");
      assert.equal(stop.code, 0, stop.stderr);
      await gone([child], 10_000);
      assert.equal(fs.existsSync(sock), false);

      // Not creatable (no such directory): guvnor starts anyway, with a warning.
      const port2 = await freePort();
      const g2 = new Guvnor(rt, ["-b", `127.0.0.1:${port2}`, "--control-socket", path.join(dir, "no", "such", "dir.ctl"), APP], { cwd: dir });
      await g2.ready(1, `http://127.0.0.1:${port2}/`);
      assert.match(g2.stderr, /WARNING\] No control socket at .*dir\.ctl/);
      // A file that is not a socket is never replaced or removed.
      const file = path.join(dir, "not-a-socket");
      fs.writeFileSync(file, "keep me");
      const port3 = await freePort();
      const g3 = new Guvnor(rt, ["-b", `127.0.0.1:${port3}`, "--control-socket", file, APP], { cwd: dir });
      await g3.ready(1, `http://127.0.0.1:${port3}/`);
      assert.match(g3.stderr, /No control socket at .*not a socket/);
      for (const x of [g2, g3]) {
        x.signal("SIGTERM");
        assert.equal((await x.exit()).code, 0);
      }
      assert.equal(fs.readFileSync(file, "utf8"), "keep me");
    });

    it("top redraws until q (through a pty)", async () => {
      const dir = tmpDir(), port = await freePort(), sock = path.join(dir, "guvnor.ctl");
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "--control-socket", sock, APP], { cwd: dir });
      await g.ready(1, `http://127.0.0.1:${port}/`);
      const cmd = [...cliCommand(rt), "ctl", "-s", sock, "top"].map((a) => `'${a}'`).join(" ");
      const top = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      top.stdout.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((r) => top.on("exit", (code) => r(code)));
      const end = Date.now() + 10_000;
      while ((out.match(/PID\s+AGE/g) ?? []).length < 2 && Date.now() < end) await sleep(100);
      assert.ok((out.match(/PID\s+AGE/g) ?? []).length >= 2, `top did not redraw: ${out}`);
      assert.ok(out.includes(String(g.workerPids()[0])));
      top.stdin.write("q");
      assert.equal(await Promise.race([exited, sleep(5000).then(() => "still running")]), 0);
      g.signal("SIGTERM");
      assert.equal((await g.exit()).code, 0);
    });
  });

  describe(`guvnor on ${rt}: a worker's news reaches the arbiter at once`, () => {
    it("a worker at --max-requests is replaced without waiting for the arbiter's next tick", async () => {
      const { g, base } = await boot(rt, ["--max-requests", "2", APP]);
      const late: number[] = [];
      for (let round = 1; round <= 5; round++) {
        await sleep(150); // the loop is back in its one-second sleep
        await request(`${base}/`);
        await request(`${base}/`); // the limit: the worker asks to be recycled
        const t0 = performance.now();
        const recycled = () => (g.stderr.match(/Recycling worker/g) ?? []).length >= round;
        while (!recycled() && performance.now() - t0 < 5000) await sleep(2);
        late.push(Math.round(performance.now() - t0));
        await g.waitFor(new RegExp(`(Worker exiting[^]*){${round}}`));
      }
      process.stdout.write(`# ${rt}: max-requests recycle acted on after ${late.join(", ")} ms\n`);
      // Without the wake-up channel each is a uniform draw from the one-second tick: five under
      // 400 ms would happen about once in a hundred runs.
      assert.ok(Math.max(...late) < 400, `acted on after ${late.join(", ")} ms`);
      await stopCleanly(g);
    });
  });

  describe(`guvnor on ${rt}: --metrics-bind`, () => {
    it("a --metrics-bind that cannot be bound is named: a --bind address at once, a port in use after the retries; exit 1", async () => {
      const port = await freePort();
      const same = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "--metrics-bind", `127.0.0.1:${port}`, "--runtime", rt, fixture("app.ts")]);
      assert.equal((await same.exit()).code, 1, same.stderr);
      assert.match(same.stderr.trim(), /^Error: --metrics-bind 127\.0\.0\.1:\d+ is also a --bind address/);
      const holder = net.createServer();
      const held = await new Promise<number>((r) => holder.listen(0, "127.0.0.1", () => r((holder.address() as net.AddressInfo).port)));
      try {
        const g = new Guvnor(rt, ["-b", `127.0.0.1:${await freePort()}`, "--metrics-bind", `127.0.0.1:${held}`, "--runtime", rt, fixture("app.ts")]);
        assert.equal((await g.exit(20_000)).code, 1, g.stderr);
        assert.match(g.stderr, /\[ERROR\] --metrics-bind: Can't bind 127\.0\.0\.1:\d+: address already in use/);
        assert.doesNotMatch(g.stderr, /Booting worker/);
      } finally {
        holder.close();
      }
    });

    it("/readyz is 503 until a worker serves and while stopping; /metrics counts every request by status class", async () => {
      const dir = tmpDir(), port = await freePort(), mport = await freePort(), base = `http://127.0.0.1:${port}`;
      const metrics = `http://127.0.0.1:${mport}`;
      const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "--metrics-bind", `127.0.0.1:${mport}`, APP], { cwd: dir, env: { BOOT_MS: "1500" } });
      await g.waitFor(/Metrics at: /);
      await g.waitFor(/Booting worker with pid/);
      assert.equal((await request(`${metrics}/healthz`)).status, 200);
      assert.equal((await request(`${metrics}/readyz`)).status, 503, "ready before the first worker serves");
      const end = Date.now() + 15_000;
      while ((await request(`${metrics}/readyz`)).status !== 200) {
        assert.ok(Date.now() < end, "never ready");
        await sleep(50);
      }
      assert.equal((await request(`${base}/`)).status, 200);
      const sent: Record<string, number> = { "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0 };
      for (const [code, n] of [[200, 6], [404, 3], [503, 2], [302, 1]]) {
        for (let i = 0; i < n; i++) assert.equal((await request(`${base}/status/${code}`)).status, code);
        sent[`${String(code)[0]}xx`] += n;
      }
      const m = parseProm((await request(`${metrics}/metrics`)).body);
      for (const [cls, n] of Object.entries(sent)) assert.equal(m.get(`guvnor_requests_total{status="${cls}"}`), n, cls);
      assert.equal(m.get("guvnor_request_duration_seconds_count"), 13);
      assert.equal(m.get('guvnor_request_duration_seconds_bucket{le="+Inf"}'), 13);
      assert.equal(m.get("guvnor_requests_in_flight"), 0);
      assert.equal(m.get('guvnor_workers{state="serving"}'), 1);
      assert.equal(m.get(`guvnor_listen_queue_length{listener="${base}"}`), 0);
      assert.ok((m.get(`guvnor_worker_rss_bytes{pid="${g.workerPids()[0]}"}`) ?? 0) > 1_000_000);
      assert.ok([...m.keys()].some((k) => k.startsWith("guvnor_build_info{")));
      assert.ok(m.has('guvnor_event_loop_lag_seconds{process="arbiter"}'));

      // A worker whose event loop was stuck for 1.2 s shows it (the request itself is counted too).
      const pid = g.workerPids()[0];
      await request(`${base}/block?ms=1200`);
      const lagKey = `guvnor_event_loop_lag_seconds{process="worker",pid="${pid}"}`;
      let lag = 0;
      for (const end = Date.now() + 5000; lag < 0.15 && Date.now() < end; await sleep(100)) lag = parseProm((await request(`${metrics}/metrics`)).body).get(lagKey) ?? 0;
      assert.ok(lag >= 0.15, `worker lag ${lag}`);

      // No worker accepting (WINCH): connections wait in the kernel's queue, and /metrics says how many.
      g.signal("SIGWINCH");
      await gone(g.workerPids());
      assert.equal((await request(`${metrics}/readyz`)).status, 503, "nobody serves");
      const waiting = await Promise.all([1, 2, 3].map(() => new Promise<net.Socket>((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => resolve(s));
      })));
      const queueKey = `guvnor_listen_queue_length{listener="${base}"}`;
      let queued = 0;
      for (const end = Date.now() + 5000; queued < 3 && Date.now() < end; await sleep(50)) queued = parseProm((await request(`${metrics}/metrics`)).body).get(queueKey) ?? -1;
      assert.equal(queued, 3);
      for (const s of waiting) s.destroy();
      g.signal("SIGTTIN");
      while ((await request(`${metrics}/readyz`)).status !== 200) await sleep(50);

      // A stop with a request in flight: /readyz turns 503 while the worker finishes it.
      const slow = request(`${base}/slow?ms=1500`);
      await sleep(200);
      g.signal("SIGTERM");
      await g.waitFor(/Handling signal: term/);
      assert.equal((await request(`${metrics}/readyz`)).status, 503);
      assert.equal((await slow).status, 200);
      assert.equal((await g.exit()).code, 0);
    });
  });
}
