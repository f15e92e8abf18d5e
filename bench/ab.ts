// A/B: the same guvnor scenario served from two source trees, alternating A B A B …, so that
// the machine's drift hits both alike; prints each round, the medians and B/A: requests/s, and
// the workers' CPU time per request (user + system, from /proc), which a busy machine disturbs
// less than throughput. For a change whose cost is meant to be within noise (request counting).
//   bun bench/ab.ts --a /tmp/guvnor-before --b . [--rt bun|deno] [--rounds 6] [--seconds 3] [--workers 1] [--connections 32]
// A tree is a checkout's files: `git archive REV | tar -x -C DIR && ln -s $PWD/node_modules DIR/`.
// Needs wrk.
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { cpuTicks, freePort, tree } from "./procs.ts";

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = path.resolve(HERE, "..");
const arg = (name: string, dflt: string) => (process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : dflt);
const A = path.resolve(arg("a", "")), B = path.resolve(arg("b", "."));
const RT = arg("rt", "bun"), ROUNDS = Number(arg("rounds", "6")), SECONDS = Number(arg("seconds", "3"));
const WORKERS = arg("workers", "1"), CONNS = arg("connections", "32");
const APP = path.join(HERE, "app.ts");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** requests/s, and the workers' CPU microseconds per request. */
async function once(dir: string): Promise<{ rps: number; cpuUs: number }> {
  const port = await freePort();
  const main = path.join(dir, "src", "cli", "main.ts");
  const cmd = RT === "bun" ? [process.execPath, main] : [path.join(ROOT, "node_modules", ".bin", "deno"), "run", "-A", main];
  const p = Bun.spawn([...cmd, "-w", WORKERS, "-b", `127.0.0.1:${port}`, "--log-level", "error", "--control-socket", "", APP], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(50);
    }
    Bun.spawnSync(["wrk", "-t1", `-c${CONNS}`, "-d1s", `http://127.0.0.1:${port}/`]); // warm-up
    const workers = tree([p.pid]).filter((pid) => pid !== p.pid);
    const ticks = () => workers.reduce((n, pid) => n + cpuTicks(pid), 0);
    const before = ticks();
    const out = Bun.spawnSync(["wrk", "-t1", `-c${CONNS}`, `-d${SECONDS}s`, `http://127.0.0.1:${port}/`]).stdout.toString();
    const cpu = (ticks() - before) * 10_000; // ticks of 10 ms, in µs
    const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? 0);
    return { rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0), cpuUs: requests ? cpu / requests : 0 };
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const a: { rps: number; cpuUs: number }[] = [], b: typeof a = [];
for (let r = 0; r < ROUNDS; r++) {
  // Alternate which goes first, so neither side always follows the other's warm caches.
  const [first, second] = r % 2 ? [[B, b], [A, a]] as const : [[A, a], [B, b]] as const;
  first[1].push(await once(first[0]));
  second[1].push(await once(second[0]));
  process.stdout.write(
    `round ${r + 1}: A ${Math.round(a[r].rps)} rps ${a[r].cpuUs.toFixed(2)} µs/req, B ${Math.round(b[r].rps)} rps ${b[r].cpuUs.toFixed(2)} µs/req\n`,
  );
}
const span = (xs: number[]) => `${median(xs).toFixed(3)} (rounds ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
process.stdout.write(
  `${RT}, ${WORKERS} worker(s), wrk -c${CONNS} ${SECONDS}s × ${ROUNDS}: median A ${Math.round(median(a.map((x) => x.rps)))} rps ` +
    `${median(a.map((x) => x.cpuUs)).toFixed(2)} µs/req, B ${Math.round(median(b.map((x) => x.rps)))} rps ${median(b.map((x) => x.cpuUs)).toFixed(2)} µs/req\n` +
    `B/A requests/s ${span(a.map((x, i) => b[i].rps / x.rps))}; B/A CPU per request ${span(a.map((x, i) => b[i].cpuUs / x.cpuUs))}\n`,
);
