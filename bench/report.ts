// The bench's tables: perf (mean of the rounds), the pool probe, failures; and the ratios that
// matter, per round, so a reader sees the spread and not only a mean.
import type { Tally } from "./failures.ts";

export interface Contender {
  name: string;
  rt: "bun" | "deno";
  workers: number;
  kind: "bare" | "cluster" | "guvnor" | "parallel";
  /** argv of each process to start; all get PORT in the environment. */
  cmds(port: number): string[][];
  env?: Record<string, string>;
  perf: boolean;
  pool: boolean;
  failures: ("stuck" | "kill" | "hup" | "ttou")[];
}

export interface Result {
  c: Contender;
  round: number;
  startMs: number;
  errors: string[];
  keepAlive?: number;
  /** Server CPU time per keep-alive request, µs, all its processes. */
  cpuPerRequestUs?: number;
  workerRss?: number[];
  arbiterRss?: number;
  /** Proportional set size of the whole server, MiB. */
  pss?: number;
  newConn?: number;
  cpu?: number;
  /** Share of the /cpu load's CPU time taken by the busiest worker. */
  split?: number;
  arbiterIdleMs?: number;
  pool?: { share: number; connShare: number; reconnects: number; failed: number }[];
  failures?: Record<string, Tally>;
}

const f0 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "–" : Math.round(n).toLocaleString("en-US"));
const f1 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(1));
const x2 = (n: number | undefined) => (n === undefined || !Number.isFinite(n) || n <= 0 ? "–" : `${n.toFixed(2)}x`);
const pct = (n: number | undefined) => (n === undefined ? "–" : `${Math.round(n * 100)}%`);
const mean = (xs: (number | undefined)[]) => {
  const ok = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : undefined;
};
const span = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}x` : "–");

export function table(results: Result[], contenders: Contender[]): string {
  const of = (c: Contender) => results.filter((r) => r.c === c);
  const find = (rt: string, name: string, workers: number) => contenders.find((c) => c.rt === rt && c.name === name && c.workers === workers);
  const clusterOf = (c: Contender) => find(c.rt, `${c.rt} reusePort cluster`, 2);
  const avg = (c: Contender | undefined, f: (r: Result) => number | undefined) => (c ? mean(of(c).map(f)) : undefined);
  /** b / a for each round both ran. */
  const perRound = (a: Contender | undefined, b: Contender | undefined, f: (r: Result) => number | undefined) =>
    !a || !b ? [] : of(b).flatMap((rb) => {
      const ra = of(a).find((x) => x.round === rb.round), va = ra && f(ra), vb = f(rb);
      return va && vb ? [vb / va] : [];
    });
  const out: string[] = [];

  const perf = contenders.filter((c) => of(c).some((r) => r.keepAlive !== undefined));
  if (perf.length) {
    out.push(
      "| contender | procs | keep-alive req/s | × cluster | server CPU µs/req | × cluster | new conn req/s | × cluster | /cpu req/s | busiest worker (CPU) | launch→200 ms | RSS MiB per worker | arbiter RSS MiB | PSS MiB, all |",
      "| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |",
    );
    for (const c of perf) {
      const cl = clusterOf(c), ka = avg(c, (r) => r.keepAlive), us = avg(c, (r) => r.cpuPerRequestUs), nc = avg(c, (r) => r.newConn);
      out.push(`| ${c.name} | ${c.workers} | ${f0(ka)} | ${x2(ka! / avg(cl, (r) => r.keepAlive)!)} | ${f1(us)} | ${x2(us! / avg(cl, (r) => r.cpuPerRequestUs)!)} | ` +
        `${f0(nc)} | ${x2(nc! / avg(cl, (r) => r.newConn)!)} | ${f0(avg(c, (r) => r.cpu))} | ${pct(avg(c, (r) => r.split))} | ` +
        `${f0(avg(c, (r) => r.startMs))} | ${f0(avg(c, (r) => mean(r.workerRss ?? [])))} | ${f0(avg(c, (r) => r.arbiterRss))} | ${f0(avg(c, (r) => r.pss))} |`);
    }
    out.push("");
    for (const rt of ["bun", "deno"] as const) {
      const g2 = find(rt, `guvnor ${rt}`, 2), g1 = find(rt, `guvnor ${rt}`, 1), rp = find(rt, `guvnor ${rt} --reuse-port`, 2);
      const cl = find(rt, `${rt} reusePort cluster`, 2), bare = find(rt, `${rt === "bun" ? "Bun" : "Deno"}.serve, 1 process`, 1);
      if (!g2 || !of(g2).length) continue;
      const cpu = (r: Result) => r.cpu, us = (r: Result) => r.cpuPerRequestUs;
      out.push(`- ${rt}: /cpu route, guvnor 2 workers / 1 worker, per round: ${span(perRound(g1, g2, cpu))} (target ≥ 1.9x); ` +
        `--reuse-port 2 / guvnor 1: ${span(perRound(g1, rp, cpu))}; cluster 2 / 1 process: ${span(perRound(bare, cl, cpu))}; ` +
        `busiest worker's CPU share per round: ${of(g2).map((r) => pct(r.split)).join(", ")}`);
      out.push(`- ${rt}: server CPU per keep-alive request, guvnor / cluster per round: ${span(perRound(cl, g2, us))} (target ≤ 1.05x)`);
      const wr = avg(g2, (r) => mean(r.workerRss ?? [])), br = avg(bare, (r) => mean(r.workerRss ?? []));
      out.push(`- ${rt}: memory: a worker ${f0(wr)} MiB RSS vs the bare server's ${f0(br)} (${wr && br ? `+${f0(wr - br)}` : "–"} MiB, target ≤ +8); ` +
        `arbiter ${f0(avg(g2, (r) => r.arbiterRss))} MiB (target ≤ 35); whole-server PSS ${f0(avg(g2, (r) => r.pss))} MiB vs cluster ${f0(avg(cl, (r) => r.pss))}`);
      out.push(`- ${rt}: launch to first 200: guvnor ${f0(avg(g2, (r) => r.startMs))} ms (1 worker: ${f0(avg(g1, (r) => r.startMs))}), ` +
        `bare ${f0(avg(bare, (r) => r.startMs))} ms; arbiter idle CPU ${f0(avg(g2, (r) => r.arbiterIdleMs))} ms over 3 s`);
    }
  }

  const pool = contenders.filter((c) => of(c).some((r) => r.pool));
  if (pool.length) {
    out.push("", "Pool probe: 64 keep-alive connections opened at once, each its own client loop on /cpu for 4 s; the busiest process's share of the requests (ideal 1/workers), and how many of the 64 connections it held at the end.", "",
      "| contender | workers | trial 1 | trial 2 | trial 3 | worst | connections at the end, busiest | reconnects | failed |",
      "| --- | --: | --: | --: | --: | --: | --: | --: | --: |");
    for (const c of pool) {
      const t = of(c).find((r) => r.pool)!.pool!;
      out.push(`| ${c.name} | ${c.workers} | ${t.map((x) => x.share.toFixed(2)).join(" | ")} | **${Math.max(...t.map((x) => x.share)).toFixed(2)}** | ` +
        `${t.map((x) => Math.round(x.connShare * 64)).join(", ")} of 64 | ${t.map((x) => x.reconnects).join(", ")} | ${t.reduce((a, x) => a + x.failed, 0)} |`);
    }
  }

  const fails = contenders.filter((c) => of(c).some((r) => r.failures));
  if (fails.length) {
    const cell = (t: Tally | undefined) => (t ? `${t.failed} of ${t.of}` : "n/a");
    out.push("", "Failures under load (target 0). Stuck: one process spins 3 s in a handler; 20 new connections a second later; counted: not answered within 1 s. " +
      "SIGKILL, HUP, TTOU: 16 clients opening a connection per request; counted: failed requests.", "",
      "| contender | stuck worker | SIGKILL a worker | HUP | TTOU |", "| --- | --: | --: | --: | --: |");
    for (const c of fails) {
      const f = of(c).find((r) => r.failures)!.failures!;
      out.push(`| ${c.name} | ${cell(f.stuck)} | ${cell(f.kill)} | ${cell(f.hup)} | ${cell(f.ttou)} |`);
    }
  }

  const errs = results.filter((r) => r.errors.length).map((r) => `- ${r.c.name} (${r.c.workers}), round ${r.round}: ${r.errors.join("; ")}`);
  if (errs.length) out.push("", "Errors reported:", ...errs);
  return out.join("\n");
}
