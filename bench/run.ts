// `npm run bench`: guvnor's modes beside the hand-rolled recipes (Bun.serve / Deno.serve, one
// process and an SO_REUSEPORT cluster; `deno serve --parallel`), same app (bench/app.ts), on
// loopback, in one run. Run with Bun; prints three tables:
//   perf      keep-alive and connection-per-request throughput, server CPU per request, the /cpu
//             route (~2 ms of CPU) with its per-worker CPU split, launch to first 200, RSS and PSS;
//   pool      the pool probe: 64 keep-alive connections opened at once, each driven by its own
//             client loop on /cpu for 4 s, 3 trials, 2 and 4 workers: the busiest worker's share;
//   failures  a worker stuck in a handler, SIGKILL, TTOU and HUP, each under load.
// Options: --rounds N (perf rounds, default 2, interleaved; pool and failures run in round 1),
// --seconds N (per perf scenario, default 2), --only LIST (comma-separated runtimes and/or
// sections: e.g. --only deno,pool). Numbers are noisy on a small shared machine: compare the
// ratios within one run, not absolutes across runs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { signal, stuckWorker, type Tally, underLoad } from "./failures.ts";
import { cpuTicks, freePort, pssMiB, rssMiB, tree, untilFirst200 } from "./procs.ts";
import { type Contender, type Result, table } from "./report.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = path.resolve(HERE, "..");
const BUN = process.execPath, DENO = path.join(ROOT, "node_modules", ".bin", "deno");
const arg = (name: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : undefined);
const SECONDS = Number(arg("seconds") ?? 2);
const ROUNDS = Number(arg("rounds") ?? 2);
const ONLY = new Set((arg("only") ?? "").split(",").filter(Boolean));
const pick = <T extends string>(all: T[]): Set<T> => new Set(all.some((w) => ONLY.has(w)) ? all.filter((w) => ONLY.has(w)) : all);
const RUNTIMES = pick(["bun", "deno"] as const), SECTIONS = pick(["perf", "pool", "failures"] as const);
const APP = path.join(HERE, "app.ts"), BARE = path.join(HERE, "bare.ts");
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
const IDLE_MS = 3000, POOL_TRIALS = 3, POOL_SECONDS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const guvnor = (rt: "bun" | "deno", mode: "" | "--reuse-port" | "--serving compat", w: number): Contender => ({
  name: `guvnor ${rt}${mode ? ` ${mode}` : ""}`, rt, workers: w, kind: "guvnor",
  cmds: (port) => [[
    ...(rt === "bun" ? [BUN] : [DENO, "run", "-A"]), MAIN, "-w", String(w), "-b", `127.0.0.1:${port}`, ...mode.split(" ").filter(Boolean),
    "--log-level", "error", APP,
  ]],
  perf: w <= 2, pool: w >= 2 && mode !== "--serving compat", failures: w === 2 && mode !== "--serving compat" ? ["stuck", "kill", "hup", "ttou"] : [],
});
const cluster = (rt: "bun" | "deno", n: number): Contender => ({
  name: n === 1 ? `${rt === "bun" ? "Bun" : "Deno"}.serve, 1 process` : `${rt} reusePort cluster`, rt, workers: n,
  kind: n === 1 ? "bare" : "cluster", env: { REUSE_PORT: n > 1 ? "1" : "" },
  cmds: () => Array.from({ length: n }, () => rt === "bun" ? [BUN, BARE] : [DENO, "run", "-A", "--unstable-net", BARE]),
  perf: n <= 2, pool: n >= 2, failures: n === 2 ? ["stuck", "kill"] : [],
});
const parallel: Contender = {
  name: "deno serve --parallel", rt: "deno", workers: 2, kind: "parallel", env: { DENO_JOBS: "2" },
  cmds: (port) => [[DENO, "serve", "-A", "--parallel", "--host", "127.0.0.1", "--port", String(port), APP]],
  perf: true, pool: false, failures: [], // its threads share one pid: no per-worker tally
};
const CONTENDERS: Contender[] = (["bun", "deno"] as const).filter((rt) => RUNTIMES.has(rt)).flatMap((rt) => [
  cluster(rt, 1), cluster(rt, 2), guvnor(rt, "", 2), guvnor(rt, "", 1), guvnor(rt, "--reuse-port", 2), guvnor(rt, "--serving compat", 2),
  cluster(rt, 4), guvnor(rt, "", 4), guvnor(rt, "--reuse-port", 4), ...(rt === "deno" ? [parallel] : []),
]).filter((c) => (SECTIONS.has("perf") && c.perf) || (SECTIONS.has("pool") && c.pool) || (SECTIONS.has("failures") && c.failures.length));

function ensureWrk(): void {
  if (Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode === 0) return;
  process.stdout.write("wrk is missing: apt-get update && apt-get install -y wrk\n");
  const r = Bun.spawnSync(["sh", "-c", "apt-get update -qq && apt-get install -y -qq wrk"], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.exitCode !== 0) throw new Error("could not install wrk (needs root and Debian/Ubuntu): install it and run again");
}

function wrk(port: number, conns: number, urlPath: string, seconds = SECONDS): { rps: number; requests: number; errors: string } {
  const out = Bun.spawnSync(["wrk", "-t1", `-c${conns}`, `-d${seconds}s`, `http://127.0.0.1:${port}${urlPath}`]).stdout.toString();
  const errs = [out.match(/Socket errors:.*/)?.[0], out.match(/Non-2xx.*/)?.[0]].filter(Boolean).join("; ");
  return { rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0), requests: Number(out.match(/(\d+) requests in/)?.[1] ?? 0), errors: errs };
}

function connload(port: number): { rps: number; ok: number; failed: number } {
  const out = Bun.spawnSync([BUN, path.join(HERE, "connload.ts"), String(port), "32", String(SECONDS)]).stdout.toString();
  return JSON.parse(out || '{"rps":0,"ok":0,"failed":-1}');
}

/** The pool probe, one trial: the busiest process's share of the requests, and the reconnections. */
async function poolTrial(port: number): Promise<{ share: number; connShare: number; reconnects: number; failed: number }> {
  const p = Bun.spawn([BUN, path.join(HERE, "pool.ts"), String(port), "64", String(POOL_SECONDS), "/cpu"], { stdout: "pipe" });
  const r = JSON.parse((await new Response(p.stdout).text()) || '{"byPid":{},"failed":-1,"reconnects":0}');
  const busiest = (by: Record<string, number>) => {
    const counts = Object.values(by), total = counts.reduce((a, b) => a + b, 0);
    return total ? Math.max(...counts) / total : NaN;
  };
  return { share: busiest(r.byPid), connShare: busiest(r.lastByPid), reconnects: r.reconnects, failed: r.failed };
}

/** The worker processes: the arbiter's descendants for guvnor, every process for the recipes. */
const workersOf = (c: Contender, roots: number[]) => (c.kind === "guvnor" ? tree(roots).filter((p) => p !== roots[0]) : tree(roots));
const ticksOf = (pids: number[]) => pids.reduce((sum, p) => sum + cpuTicks(p), 0);

async function measure(c: Contender, round: number): Promise<Result> {
  const port = await freePort();
  const log = path.join(os.tmpdir(), `guvnor-bench-${process.pid}.log`);
  const errFd = fs.openSync(log, "w");
  const t0 = performance.now();
  const procs = c.cmds(port).map((cmd) => Bun.spawn(cmd, {
    cwd: ROOT, stdio: ["ignore", "ignore", errFd], env: { ...process.env, ...c.env, PORT: String(port) },
  }));
  const roots = procs.map((p) => p.pid);
  try {
    const r: Result = { c, round, startMs: await untilFirst200(port, t0), errors: [] };
    if (round === 1 && c.kind === "guvnor" && c.perf && c.workers === 2 && !c.name.includes("--")) {
      // The idle arbiter: its CPU once the workers have booted, with no traffic.
      await sleep(1000);
      const before = cpuTicks(roots[0]);
      await sleep(IDLE_MS);
      r.arbiterIdleMs = (cpuTicks(roots[0]) - before) * 10;
    }
    if (SECTIONS.has("perf") && c.perf) await perf(c, port, roots, r);
    if (round === 1 && SECTIONS.has("pool") && c.pool) {
      r.pool = [];
      for (let t = 0; t < POOL_TRIALS; t++) {
        if (t) await sleep(1000); // the previous trial's connections go quiet first
        r.pool.push(await poolTrial(port));
      }
    }
    if (round === 1 && SECTIONS.has("failures") && c.failures.length) r.failures = await failures(c, port, roots);
    return r;
  } catch (err) {
    throw new Error(`${c.name}: ${(err as Error).message}\n${fs.readFileSync(log, "utf8").slice(-2000)}`);
  } finally {
    const all = tree(roots);
    for (const p of procs) p.kill("SIGTERM");
    await Promise.race([Promise.all(procs.map((p) => p.exited)), sleep(5000)]);
    for (const pid of all) signal(pid, "SIGKILL");
    fs.closeSync(errFd);
    fs.rmSync(log, { force: true });
  }
}

async function perf(c: Contender, port: number, roots: number[], r: Result): Promise<void> {
  wrk(port, 64, "/", 1); // warm-up: JIT, connection pools
  const all = tree(roots), before = ticksOf(all);
  const ka = wrk(port, 64, "/");
  r.keepAlive = ka.rps;
  // Server CPU per request: every process of the server (arbiter included), over the keep-alive run.
  r.cpuPerRequestUs = ka.requests ? ((ticksOf(all) - before) * 10_000) / ka.requests : undefined;
  const workers = workersOf(c, roots);
  r.workerRss = workers.map(rssMiB);
  r.pss = tree(roots).reduce((sum, p) => sum + pssMiB(p), 0);
  if (c.kind === "guvnor") r.arbiterRss = rssMiB(roots[0]);
  const nc = connload(port);
  r.newConn = nc.rps;
  const t1 = workers.map(cpuTicks);
  r.cpu = wrk(port, 16, "/cpu").rps;
  const used = workers.map((p, i) => cpuTicks(p) - t1[i]), total = used.reduce((a, b) => a + b, 0);
  if (workers.length > 1 && total > 0) r.split = Math.max(...used) / total;
  if (ka.errors) r.errors.push(ka.errors);
  if (nc.failed) r.errors.push(`new-conn failed ${nc.failed}`);
}

/** In this order, on one server: stuck, SIGKILL (the arbiter replaces the worker), HUP, TTOU. */
async function failures(c: Contender, port: number, roots: number[]): Promise<Record<string, Tally>> {
  const out: Record<string, Tally> = {};
  for (const f of c.failures) {
    if (f === "stuck") out.stuck = await stuckWorker(port);
    if (f === "kill") out.kill = await underLoad(port, () => signal(workersOf(c, roots)[0], "SIGKILL"));
    if (f === "hup") out.hup = await underLoad(port, () => signal(roots[0], "SIGHUP"), 4);
    if (f === "ttou") out.ttou = await underLoad(port, () => signal(roots[0], "SIGTTOU"));
    await sleep(1000); // replacements boot, old workers finish
  }
  return out;
}

ensureWrk();
process.stdout.write(
  `guvnor bench: ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ` +
    `${[...RUNTIMES].join(", ")}: ${[...SECTIONS].join(", ")}; bun ${Bun.version}\n`,
);
const results: Result[] = [];
const began = Date.now();
// Rounds interleave the contenders, so a burst of noise on the machine hits them all alike.
for (let round = 1; round <= ROUNDS; round++) {
  for (const c of CONTENDERS) {
    if (round > 1 && !(SECTIONS.has("perf") && c.perf)) continue;
    process.stdout.write(`  round ${round}: ${c.name} (${c.workers}) … `);
    const r = await measure(c, round);
    results.push(r);
    const pool = r.pool ? ` pool ${r.pool.map((t) => t.share.toFixed(2)).join("/")}` : "";
    const fails = r.failures ? ` failures ${Object.entries(r.failures).map(([k, v]) => `${k} ${v.failed}/${v.of}`).join(", ")}` : "";
    process.stdout.write(`${r.keepAlive === undefined ? "" : `${Math.round(r.keepAlive)} req/s keep-alive, ${Math.round(r.cpu ?? 0)} /cpu`}${pool}${fails}\n`);
  }
}
process.stdout.write(`\n${table(results, CONTENDERS)}\n\n(${Math.round((Date.now() - began) / 1000)} s; ${ROUNDS} round(s) of ${SECONDS} s per perf scenario)\n`);
process.exit(0);
