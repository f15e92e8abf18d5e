// The fault soak: `npm run soak -- [--runtime bun|deno] [--seconds 60]` (run with Bun).
// Mixed keep-alive and connection-per-request load on guvnor while, every 2 s, one fault is
// injected at random: a worker SIGKILLed, or HUP, TTIN, TTOU or a USR2 upgrade (WINCH + TERM to the
// old arbiter once the new one serves); slowloris clients dribble request heads all along. Every
// failed request is counted and attributed: in flight on a worker that was SIGKILLed (a keep-alive
// connection known to be on that worker, or a fresh connection whose flight spans the kill), or
// not. Prints a table; a measurement, not a test.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = path.resolve(HERE, "..");
const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : dflt);
const RT = arg("runtime", "bun") as "bun" | "deno";
const SECONDS = Number(arg("seconds", "60"));
const KEEPALIVE_CLIENTS = 8, FRESH_CLIENTS = 8, SLOWLORIS = 16, FAULT_EVERY_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// 1. guvnor, 3 workers, a pid file to follow the arbiter across USR2.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guvnor-soak-"));
const pidfile = path.join(dir, "guvnor.pid");
const port = await new Promise<number>((r) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => r(p)); }); });
const cli = RT === "bun" ? [path.join(ROOT, "node_modules/.bin/bun"), path.join(ROOT, "src/cli/main.ts")] : [path.join(ROOT, "node_modules/.bin/deno"), "run", "-A", path.join(ROOT, "src/cli/main.ts")];
const args = ["-b", `127.0.0.1:${port}`, "-w", "3", "--graceful-timeout", "5", "--keep-alive", "5", "-p", pidfile, "--control-socket", path.join(dir, "ctl.sock"), path.join(HERE, "app.ts")];
const child = spawn(cli[0], [...cli.slice(1), ...args], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
let log = "";
child.stderr!.on("data", (d) => (log += d));
let arbiter = child.pid!;
const workers = () => [...log.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1])).filter((p) => parentOf(p) === arbiter);
function parentOf(pid: number): number {
  try {
    const st = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return /^State:\s+Z/m.test(st) ? 0 : Number(st.match(/^PPid:\s+(\d+)/m)?.[1]);
  } catch {
    return 0;
  }
}
const rssMiB = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0) / 1024;
for (let i = 0; workers().length < 3; i++) {
  if (i > 300) throw new Error(`guvnor did not boot:\n${log}`);
  await sleep(50);
}
await sleep(500);
const rssStart = rssMiB(arbiter);
let rssBeforeUpgrade = 0;

// 2. The load. Each request: start, end, outcome, and the worker pid its connection is known to be on.
interface Failure { start: number; end: number; kind: string; pid: number | null; reused?: boolean }
const failures: Failure[] = [];
let ok = 0, running = true;
const kills: { pid: number; at: number }[] = [];
const actions: Record<string, number> = {};

/** One request on `s`; resolves with the answering pid, or throws a kind. */
function exchange(s: net.Socket, close: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => done(new Error("timeout")), 10_000);
    const onData = (d: Buffer) => {
      buf += d;
      const head = buf.indexOf("\r\n\r\n");
      if (head === -1) return;
      const len = Number(buf.slice(0, head).match(/content-length:\s*(\d+)/i)?.[1] ?? -1);
      if (len >= 0 && buf.length >= head + 4 + len) done(null, buf.slice(head + 4, head + 4 + len));
    };
    const onEnd = () => done(new Error(buf ? "truncated" : "closed without an answer"));
    const onError = (e: NodeJS.ErrnoException) => done(new Error(e.code ?? e.message));
    function done(err: Error | null, body?: string) {
      clearTimeout(t);
      s.off("data", onData).off("end", onEnd).off("close", onEnd).off("error", onError);
      if (err) return reject(err);
      if (!buf.startsWith("HTTP/1.1 200")) return reject(new Error(`status ${buf.slice(9, 12)}`));
      resolve(Number(body!.split(" ").pop()));
    }
    s.on("data", onData).on("end", onEnd).on("close", onEnd).on("error", onError);
    s.write(`GET /cpu HTTP/1.1\r\nHost: soak\r\n${close ? "Connection: close\r\n" : ""}\r\n`);
  });
}
const connect = () => new Promise<net.Socket>((resolve, reject) => {
  const s = net.connect(port, "127.0.0.1", () => resolve(s));
  s.once("error", (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
});

async function keepAliveClient(): Promise<void> {
  while (running) {
    let s: net.Socket, pid: number | null = null;
    const t0 = Date.now();
    try {
      s = await connect();
    } catch (e) {
      failures.push({ start: t0, end: Date.now(), kind: (e as Error).message, pid: null });
      continue;
    }
    let reused = false;
    while (running && !s.destroyed) {
      const start = Date.now();
      try {
        pid = await exchange(s, false);
        ok++;
        reused = true;
      } catch (e) {
        failures.push({ start, end: Date.now(), kind: (e as Error).message, pid, reused });
        break;
      }
    }
    s.destroy();
  }
}

async function freshClient(): Promise<void> {
  while (running) {
    const start = Date.now();
    try {
      const s = await connect();
      try {
        await exchange(s, true);
        ok++;
      } finally {
        s.destroy();
      }
    } catch (e) {
      failures.push({ start, end: Date.now(), kind: (e as Error).message, pid: null });
    }
  }
}

let slowlorisClosed = 0;
async function slowloris(): Promise<void> {
  while (running) {
    await new Promise<void>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      const head = "GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: " + "a".repeat(1000);
      let i = 0;
      const drip = setInterval(() => (running && s.writable ? s.write(head[i++ % head.length]) : s.destroy()), 1000);
      s.on("error", () => {});
      s.on("close", () => {
        clearInterval(drip);
        if (running) slowlorisClosed++;
        resolve();
      });
    });
  }
}

// 3. Faults.
async function fault(): Promise<void> {
  const ws = workers();
  const choices = ["kill", "kill", "hup", ...(ws.length < 4 ? ["ttin"] : []), ...(ws.length > 2 ? ["ttou"] : []), ...(actions.usr2 ? [] : ["usr2"])];
  const what = choices[Math.floor(Math.random() * choices.length)];
  actions[what] = (actions[what] ?? 0) + 1;
  if (what === "kill" && ws.length) {
    const pid = ws[Math.floor(Math.random() * ws.length)];
    kills.push({ pid, at: Date.now() });
    process.kill(pid, "SIGKILL");
  } else if (what === "hup") process.kill(arbiter, "SIGHUP");
  else if (what === "ttin") process.kill(arbiter, "SIGTTIN");
  else if (what === "ttou") process.kill(arbiter, "SIGTTOU");
  else if (what === "usr2") {
    const old = arbiter, seen = log.length;
    rssBeforeUpgrade = rssMiB(old);
    process.kill(old, "SIGUSR2");
    let next = 0;
    for (let i = 0; i < 200 && !next; i++, await sleep(50)) next = Number(log.slice(seen).match(/Started new arbiter \(pid: (\d+)\)/)?.[1] ?? 0);
    if (!next) return;
    for (let i = 0; i < 200 && !new RegExp(`\\[\\d+\\] \\[INFO\\] Booting worker`).test(log.slice(seen)); i++) await sleep(50);
    await sleep(1000);
    process.kill(old, "SIGWINCH");
    await sleep(500);
    process.kill(old, "SIGTERM");
    arbiter = next;
  }
}

const t0 = Date.now();
const load = [
  ...Array.from({ length: KEEPALIVE_CLIENTS }, keepAliveClient),
  ...Array.from({ length: FRESH_CLIENTS }, freshClient),
  ...Array.from({ length: SLOWLORIS }, slowloris),
];
while (Date.now() - t0 < SECONDS * 1000) {
  await sleep(FAULT_EVERY_MS);
  await fault();
}
await sleep(3000); // the last fault settles under load
running = false;
await Promise.all(load);
const rssEnd = rssMiB(arbiter);
const finalWorkers = workers().length;
process.kill(arbiter, "SIGTERM");
await sleep(1500);

// 4. Attribution and the table.
const onKilled = (f: Failure) => kills.some((k) => k.at >= f.start - 5 && k.at <= f.end && (f.pid === null || f.pid === k.pid));
// A reused keep-alive connection the server closed as the request went out (idle, or a worker
// stopping on HUP/TTOU) never had the request read: HTTP clients retry those (RFC 9112, 9.3.1).
const retried = (f: Failure) => !onKilled(f) && f.reused === true && f.kind === "closed without an answer";
const attributed = failures.filter(onKilled), closedIdle = failures.filter(retried), other = failures.filter((f) => !onKilled(f) && !retried(f));
const kinds = (fs: Failure[]) => Object.entries(fs.reduce<Record<string, number>>((m, f) => ((m[f.kind] = (m[f.kind] ?? 0) + 1), m), {})).map(([k, n]) => `${k} ${n}`).join(", ") || "—";
const row = (k: string, v: string | number) => console.log(`| ${k} | ${v} |`);
console.log(`\nguvnor fault soak on ${RT}: ${SECONDS} s, ${KEEPALIVE_CLIENTS} keep-alive + ${FRESH_CLIENTS} connection-per-request clients on /cpu, ${SLOWLORIS} slowloris, a fault every ${FAULT_EVERY_MS / 1000} s\n`);
console.log("| measure | value |\n|---|---|");
row("requests answered 200", ok);
row("failed requests", failures.length);
row("… in flight on a SIGKILLed worker", `${attributed.length} (${kinds(attributed)})`);
row("… a reused keep-alive connection closed by the server as the request went out (retryable)", closedIdle.length);
row("… other", `${other.length} (${kinds(other)})`);
row("faults", Object.entries(actions).map(([k, n]) => `${k} ${n}`).join(", "));
row("slowloris connections closed by the server", slowlorisClosed);
row("workers at the end", finalWorkers);
row("arbiter RSS at start → before USR2 (same process) (MiB)", rssBeforeUpgrade ? `${rssStart.toFixed(1)} → ${rssBeforeUpgrade.toFixed(1)}` : "no USR2");
row("arbiter RSS at the end (MiB)", `${rssEnd.toFixed(1)}${arbiter !== child.pid ? " (the arbiter USR2 started)" : ""}`);
if (other.length) console.log(`\nunattributed failures (ms since start): ${other.slice(0, 20).map((f) => `${f.start - t0}+${f.end - f.start} ${f.kind}`).join("; ")}`);
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
