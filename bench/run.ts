// `npm run bench`: guvnor against the bare runtimes, on loopback, same app (bench/app.ts), one
// run, one table of requests/s and ratios. Run with Bun. Options: --seconds N (per scenario,
// default 2), --rounds N (default 2: every contender N times, interleaved, mean of the rounds),
// --only bun|deno. Every number is noisy on a small shared machine: compare the ratios within
// one run, not absolutes across runs.
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { cpuTicks, rssMiB, tree, untilFirst200 } from "./procs.ts";

// The harness runs on Bun (npm run bench); the contenders on either runtime.
// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
const HERE = fileURLToPath(new URL(".", import.meta.url));

const ROOT = path.resolve(HERE, "..");
const BIN = path.join(ROOT, "node_modules", ".bin");
const BUN = process.execPath, DENO = path.join(BIN, "deno");
const arg = (name: string) => process.argv[process.argv.indexOf(`--${name}`) + 1];
const SECONDS = Number(process.argv.includes("--seconds") ? arg("seconds") : 2);
const ROUNDS = Number(process.argv.includes("--rounds") ? arg("rounds") : 2);
const ONLY = process.argv.includes("--only") ? arg("only") : "";
const APP = path.join(HERE, "app.ts"), BARE = path.join(HERE, "bare.ts");
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
const IDLE_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Contender {
  name: string;
  rt: "bun" | "deno";
  workers: number;
  /** The reference it is compared with (the hand-rolled cluster of its runtime). */
  ref?: string;
  guvnor?: boolean;
  /** argv of each process to start; all get PORT in the environment. */
  cmds(port: number): string[][];
  env?: Record<string, string>;
}

const guvnor = (rt: "bun" | "deno", serving: string, w: number, reusePort = false): Contender => ({
  name: `guvnor ${rt} ${serving}${reusePort ? " --reuse-port" : ""}`, rt, workers: w, guvnor: true, ref: `${rt} reusePort cluster`,
  cmds: (port) => [[
    ...(rt === "bun" ? [BUN] : [DENO, "run", "-A"]), MAIN, "-w", String(w), "-b", `127.0.0.1:${port}`, "--serving", serving,
    ...(reusePort ? ["--reuse-port"] : []), "--log-level", "error", APP,
  ]],
});
const cluster = (rt: "bun" | "deno", n: number): Contender => ({
  name: n === 1 ? `${rt === "bun" ? "Bun" : "Deno"}.serve, 1 process` : `${rt} reusePort cluster`, rt, workers: n,
  ref: `${rt} reusePort cluster`, env: { REUSE_PORT: n > 1 ? "1" : "" },
  cmds: () => Array.from({ length: n }, () => rt === "bun" ? [BUN, BARE] : [DENO, "run", "-A", "--unstable-net", BARE]),
});
const CONTENDERS: Contender[] = [
  cluster("bun", 1), cluster("bun", 2), guvnor("bun", "native", 2), guvnor("bun", "native", 1), guvnor("bun", "native", 2, true), guvnor("bun", "compat", 2),
  cluster("deno", 1), cluster("deno", 2), guvnor("deno", "native", 2), guvnor("deno", "native", 1), guvnor("deno", "native", 2, true), guvnor("deno", "compat", 2),
  {
    name: "deno serve --parallel", rt: "deno" as const, workers: 2, ref: "deno reusePort cluster", env: { DENO_JOBS: "2" },
    cmds: (port: number) => [[DENO, "serve", "-A", "--parallel", "--host", "127.0.0.1", "--port", String(port), APP]],
  },
].filter((c) => !ONLY || c.rt === ONLY);

interface Result {
  c: Contender;
  keepAlive: number;
  newConn: number;
  newConnFailed: number;
  cpu: number;
  /** Share of the CPU-bound load's CPU time taken by the busiest worker process. */
  split: number | null;
  startMs: number;
  rss: number;
  arbiterRss?: number;
  arbiterIdleMs?: number;
  errors: string;
  /** Failed / total requests of a connection-per-request load during a HUP (guvnor, round 1). */
  hup?: { failed: number; ok: number };
}

function ensureWrk(): void {
  if (Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0) return;
  process.stdout.write("wrk is missing: apt-get update && apt-get install -y wrk\n");
  const r = Bun.spawnSync(["sh", "-c", "apt-get update -qq && apt-get install -y -qq wrk"], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.exitCode !== 0) throw new Error("could not install wrk (needs root and Debian/Ubuntu): install it and run again");
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function wrk(port: number, conns: number, urlPath: string, seconds = SECONDS): { rps: number; errors: string } {
  const out = Bun.spawnSync(["wrk", "-t1", `-c${conns}`, `-d${seconds}s`, `http://127.0.0.1:${port}${urlPath}`]).stdout.toString();
  const errs = [out.match(/Socket errors:.*/)?.[0], out.match(/Non-2xx.*/)?.[0]].filter(Boolean).join("; ");
  return { rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0), errors: errs };
}

function connload(port: number): { rps: number; ok: number; failed: number } {
  const out = Bun.spawnSync([BUN, path.join(HERE, "connload.ts"), String(port), "32", String(SECONDS)]).stdout.toString();
  return JSON.parse(out || '{"rps":0,"ok":0,"failed":-1}');
}

/** A connection-per-request load for 4 s with a HUP to the arbiter after 1 s: what a reload loses. */
async function duringHup(port: number, arbiter: number): Promise<{ ok: number; failed: number }> {
  const load = Bun.spawn([BUN, path.join(HERE, "connload.ts"), String(port), "16", "4"], { stdout: "pipe" });
  await sleep(1000);
  process.kill(arbiter, "SIGHUP");
  return JSON.parse((await new Response(load.stdout).text()) || '{"ok":0,"failed":-1}');
}

/** The rounds' mean of every number; errors of every round. */
function mean(rs: Result[]): Result {
  const avg = (f: (r: Result) => number | null | undefined) => {
    const xs = rs.map(f).filter((x): x is number => typeof x === "number");
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  return {
    ...rs[0], keepAlive: avg((r) => r.keepAlive)!, newConn: avg((r) => r.newConn)!, newConnFailed: avg((r) => r.newConnFailed)!,
    cpu: avg((r) => r.cpu)!, split: avg((r) => r.split) ?? null, startMs: avg((r) => r.startMs)!, rss: avg((r) => r.rss)!,
    arbiterRss: avg((r) => r.arbiterRss), arbiterIdleMs: avg((r) => r.arbiterIdleMs), hup: rs.find((r) => r.hup)?.hup,
    errors: rs.map((r) => r.errors).filter(Boolean).join(" | "),
  };
}

async function measure(c: Contender, idle: boolean): Promise<Result> {
  const port = await freePort();
  const log = path.join(os.tmpdir(), `guvnor-bench-${process.pid}.log`);
  const errFd = fs.openSync(log, "w");
  const t0 = performance.now();
  const procs = c.cmds(port).map((cmd) => Bun.spawn(cmd, {
    cwd: ROOT, stdio: ["ignore", "ignore", errFd], env: { ...process.env, ...c.env, PORT: String(port) },
  }));
  const roots = procs.map((p) => p.pid);
  try {
    const startMs = await untilFirst200(port, t0);
    const r: Result = { c, keepAlive: 0, newConn: 0, newConnFailed: 0, cpu: 0, split: null, startMs, rss: 0, errors: "" };
    if (idle && c.guvnor && c.workers === 2 && c.name.endsWith("native")) {
      // Idle arbiter: its CPU over 5 s once the workers have booted, with no traffic.
      await sleep(1000);
      const before = cpuTicks(roots[0]);
      await sleep(IDLE_MS);
      r.arbiterIdleMs = (cpuTicks(roots[0]) - before) * 10;
    }
    wrk(port, 64, "/", 1); // warm-up: JIT, connection pools
    const ka = wrk(port, 64, "/");
    r.keepAlive = ka.rps;
    r.rss = tree(roots).reduce((sum, pid) => sum + rssMiB(pid), 0);
    if (c.guvnor) r.arbiterRss = rssMiB(roots[0]);
    const nc = connload(port);
    r.newConn = nc.rps;
    r.newConnFailed = nc.failed;
    const workers = c.guvnor ? tree(roots).filter((p) => p !== roots[0]) : roots;
    const t1 = workers.map(cpuTicks);
    r.cpu = wrk(port, 16, "/cpu").rps;
    const used = workers.map((p, i) => cpuTicks(p) - t1[i]), total = used.reduce((a, b) => a + b, 0);
    if (workers.length > 1 && total > 0) r.split = Math.max(...used) / total;
    if (idle && c.guvnor) r.hup = await duringHup(port, roots[0]);
    r.errors = ka.errors + (nc.failed ? ` new-conn failed ${nc.failed}` : "");
    return r;
  } catch (err) {
    throw new Error(`${c.name}: ${(err as Error).message}\n${fs.readFileSync(log, "utf8").slice(-2000)}`);
  } finally {
    const all = tree(roots);
    for (const p of procs) p.kill("SIGTERM");
    await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(5000)]);
    for (const pid of all) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    fs.closeSync(errFd);
    fs.rmSync(log, { force: true });
  }
}

const f0 = (n: number) => Math.round(n).toLocaleString("en-US");
const x2 = (n: number) => (Number.isFinite(n) && n > 0 ? `${n.toFixed(2)}x` : "–");

function table(results: Result[]): string {
  const byName = new Map(results.map((r) => [`${r.c.name}/${r.c.workers}`, r]));
  const ref = (r: Result) => results.find((x) => x.c.name === r.c.ref);
  const rows = results.map((r) => {
    const base = ref(r);
    return `| ${r.c.name} | ${r.c.workers} | ${f0(r.keepAlive)} | ${x2(base ? r.keepAlive / base.keepAlive : NaN)} | ${f0(r.newConn)} | ${x2(base ? r.newConn / base.newConn : NaN)} | ${f0(r.cpu)} | ${r.split === null ? "–" : `${Math.round(r.split * 100)}%`} | ${f0(r.startMs)} | ${r.rss.toFixed(0)} |`;
  });
  const lines = [
    `| contender | procs | keep-alive req/s | × cluster | new conn req/s | × cluster | /cpu req/s | busiest worker | launch→200 ms | RSS MiB |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...rows,
  ];
  const notes: string[] = [];
  for (const rt of ["bun", "deno"] as const) {
    const n2 = byName.get(`guvnor ${rt} native/2`), n1 = byName.get(`guvnor ${rt} native/1`), cl = byName.get(`${rt} reusePort cluster/2`);
    if (n2 && cl) notes.push(`- ${rt}: guvnor native / reusePort cluster (2 processes): keep-alive ${x2(n2.keepAlive / cl.keepAlive)}, new connection ${x2(n2.newConn / cl.newConn)} (target ≥ 0.95x)`);
    if (n2 && n1) notes.push(`- ${rt}: /cpu (~2 ms of CPU), guvnor native 2 workers / 1 worker: ${x2(n2.cpu / n1.cpu)} (target ≥ 1.7x)`);
    const rp = byName.get(`guvnor ${rt} native --reuse-port/2`);
    if (rp && cl && n1) notes.push(`- ${rt}: guvnor --reuse-port / reusePort cluster: keep-alive ${x2(rp.keepAlive / cl.keepAlive)}, new connection ${x2(rp.newConn / cl.newConn)}; /cpu 2 workers / 1: ${x2(rp.cpu / n1.cpu)}`);
    if (n2?.arbiterRss !== undefined) notes.push(`- ${rt}: arbiter idle CPU ${n2.arbiterIdleMs} ms in ${IDLE_MS / 1000} s (clock ticks of 10 ms); arbiter RSS ${n2.arbiterRss.toFixed(0)} MiB`);
  }
  const hups = results.filter((r) => r.hup).map((r) => `${r.c.name} (${r.c.workers}) ${r.hup!.failed} of ${r.hup!.ok + r.hup!.failed}`);
  if (hups.length) notes.push(`- failed requests during a HUP under a connection-per-request load (target 0): ${hups.join("; ")}`);
  const errs = results.filter((r) => r.errors).map((r) => `- ${r.c.name} (${r.c.workers}): ${r.errors}`);
  return [...lines, "", ...notes, ...(errs.length ? ["", "Errors reported:", ...errs] : [])].join("\n");
}

ensureWrk();
const cpus = os.cpus().length;
process.stdout.write(`guvnor bench: ${cpus} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, ${SECONDS} s per scenario; bun ${Bun.version}\n`);
const rounds = new Map<Contender, Result[]>(CONTENDERS.map((c) => [c, []]));
const began = Date.now();
// Rounds interleave the contenders, so a burst of noise on the machine hits them all alike.
for (let round = 1; round <= ROUNDS; round++) {
  for (const c of CONTENDERS) {
    process.stdout.write(`  round ${round}: ${c.name} (${c.workers}) … `);
    const r = await measure(c, round === 1);
    rounds.get(c)!.push(r);
    process.stdout.write(`${f0(r.keepAlive)} req/s keep-alive, ${f0(r.newConn)} new-conn, ${f0(r.cpu)} /cpu\n`);
  }
}
const results = CONTENDERS.map((c) => mean(rounds.get(c)!));
process.stdout.write(`\n${table(results)}\n\n(${Math.round((Date.now() - began) / 1000)} s; mean of ${ROUNDS} round(s) of ${SECONDS} s per scenario: wrk -t1 -c64 keep-alive, 32 clients opening a connection per request, wrk -t1 -c16 on /cpu)\n`);
process.exit(0);
