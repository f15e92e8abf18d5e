// Helpers for the behavioural suite: start the real CLI, talk HTTP over loopback, clean up by pid.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

export type RuntimeName = "bun" | "deno";
export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const FIXTURES = path.join(ROOT, "tests", "fixtures");
export const fixture = (name: string): string => path.join(FIXTURES, name);
const BIN = path.join(ROOT, "node_modules", ".bin");
const MAIN = path.join(ROOT, "src", "cli", "main.ts");

/** argv that runs the guvnor CLI on `rt`. */
export function cliCommand(rt: RuntimeName): string[] {
  return rt === "bun" ? [path.join(BIN, "bun"), MAIN] : [path.join(BIN, "deno"), "run", "-A", MAIN];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "guvnor-test-"));
}

export interface Exit {
  code: number | null;
  signal: string | null;
}

/** A running guvnor CLI process. */
export class Guvnor {
  stdout = "";
  stderr = "";
  readonly pid: number;
  readonly exited: Promise<Exit>;
  #exit?: Exit;

  constructor(readonly rt: RuntimeName, args: string[], opts: { env?: Record<string, string>; cwd?: string; command?: string[]; controlSocket?: "default" } = {}) {
    const [cmd, ...pre] = opts.command ?? cliCommand(rt);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("GUVNOR_")) env[k] = v;
    delete env.PORT;
    delete env.WEB_CONCURRENCY;
    // No control socket unless a test asks for one: suites share the repository as their directory.
    if (opts.controlSocket !== "default") env.GUVNOR_CONTROL_SOCKET = "";
    const child = spawn(cmd, [...pre, ...args], { cwd: opts.cwd ?? ROOT, env: { ...env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    this.pid = child.pid!;
    child.stdout!.on("data", (d) => (this.stdout += d));
    child.stderr!.on("data", (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: string | null) => {
        this.#exit ??= { code, signal };
        resolve(this.#exit);
      };
      child.on("close", done);
      // A process it started (USR2's new arbiter) may hold the pipes open: do not wait for them.
      child.on("exit", (code, signal) => setTimeout(() => done(code, signal), 300));
    });
    running.add(this);
  }

  /** Pids of every worker this arbiter booted, from its log. */
  workerPids(): number[] {
    return [...this.stderr.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
  }

  /** Waits until stderr (or stdout) matches, or fails with what was printed. */
  async waitFor(re: RegExp, timeoutMs = 15_000, stream: "stderr" | "stdout" = "stderr", evenAfterExit = false): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = this[stream].match(re);
      if (m) return m;
      if (this.#exit && !evenAfterExit) throw new Error(`guvnor exited (${JSON.stringify(this.#exit)}) before ${re}; stderr:\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; stderr:\n${this.stderr}`);
      await sleep(20);
    }
  }

  /** Waits until `n` workers have booted and a request to `url` is answered. */
  async ready(n: number, url?: string | RequestTarget): Promise<void> {
    const end = Date.now() + 20_000;
    while (this.workerPids().length < n) {
      if (this.#exit || Date.now() > end) throw new Error(`${n} workers did not boot; stderr:\n${this.stderr}`);
      await sleep(20);
    }
    if (url) await request(url);
  }

  signal(sig: NodeJS.Signals): void {
    process.kill(this.pid, sig);
  }

  /** Waits for exit within timeoutMs, or fails. */
  async exit(timeoutMs = 15_000): Promise<Exit> {
    let t: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([this.exited, new Promise<null>((res) => (t = setTimeout(() => res(null), timeoutMs)))]);
    clearTimeout(t);
    if (!r) throw new Error(`guvnor did not exit within ${timeoutMs} ms; stderr:\n${this.stderr}`);
    return r;
  }

  /** Pids of every arbiter that logged here: this one, and any it started with USR2. */
  arbiterPids(): number[] {
    return [...this.stderr.matchAll(/\[(\d+)\] \[INFO\] Starting guvnor/g)].map((m) => Number(m[1]));
  }

  /** Kills the arbiter(s) and every worker they logged, by pid. */
  async kill(): Promise<void> {
    running.delete(this);
    for (const pid of [this.pid, ...this.arbiterPids(), ...this.workerPids()]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await this.exit(5000).catch(() => {});
  }
}

const running = new Set<Guvnor>();

/** Kills whatever a test left running (call from afterEach). */
export async function cleanup(): Promise<void> {
  await Promise.all([...running].map((g) => g.kill()));
}

/** True while a process exists (zombies count as gone). */
export function alive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return !/^State:\s+Z/m.test(st);
  } catch {
    return false;
  }
}

/** Waits until none of the pids is alive, or fails naming the survivors. */
export async function gone(pids: number[], timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > end) throw new Error(`still alive: ${pids.filter(alive).join(", ")}`);
    await sleep(50);
  }
}

export interface RequestTarget {
  url: string;
  socketPath?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  agent?: http.Agent | false;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request over a fresh connection (or the given agent), body read to the end. */
export function request(target: string | RequestTarget, timeoutMs = 10_000): Promise<Reply> {
  const t = typeof target === "string" ? { url: target } : target;
  const u = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname.replace(/^\[|\]$/g, ""), port: u.port, path: u.pathname + u.search, method: t.method ?? "GET",
      headers: t.headers, socketPath: t.socketPath, agent: t.agent ?? false, timeout: timeoutMs,
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`request to ${t.url} timed out`)));
    req.on("error", reject);
    const b = t.body;
    if (b && typeof b === "object" && Symbol.asyncIterator in b) {
      (async () => { for await (const c of b as AsyncIterable<Uint8Array>) req.write(c); req.end(); })().catch(reject);
    } else {
      req.end(b as string | Uint8Array | undefined);
    }
  });
}

/**
 * Requests `${base}/pid` (the app answers with its process id) on fresh connections until worker
 * `pid` has answered, so a test that kills it knows requests reached it first.
 */
export async function answeredBy(base: string, pid: number, tries = 300): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < tries; i++) {
    const body = (await request(`${base}/pid`)).body;
    if (body === String(pid)) return;
    seen.add(body);
  }
  throw new Error(`worker ${pid} never answered ${tries} requests (answered by: ${[...seen].join(", ")})`);
}

/** A keep-alive agent whose one connection is served by worker `pid`: requests through it reach that worker. */
export async function agentTo(base: string, pid: number, tries = 100): Promise<http.Agent> {
  for (let i = 0; i < tries; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    if ((await request({ url: `${base}/pid`, agent })).body === String(pid)) return agent;
    agent.destroy();
  }
  throw new Error(`no connection to worker ${pid} in ${tries} tries`);
}

/** Keeps `loops` clients opening fresh connections until stop(); counts outcomes and pids. */
export function continuousLoad(url: string, loops = 4): { stop: () => Promise<{ ok: number; failed: number; errors: string[]; pids: Set<string> }> } {
  let running = true;
  const result = { ok: 0, failed: 0, errors: [] as string[], pids: new Set<string>() };
  const workers = Array.from({ length: loops }, async () => {
    while (running) {
      try {
        const r = await request(url, 5000);
        if (r.status === 200) {
          result.ok++;
          result.pids.add(r.body);
        } else {
          result.failed++;
          result.errors.push(`status ${r.status}`);
        }
      } catch (err) {
        result.failed++;
        result.errors.push(String((err as { code?: string }).code ?? err));
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return result;
    },
  };
}

/**
 * Starts the CLI on a free loopback port with `workers` workers and waits until they booted and
 * (unless `probe` is false: an app that is not HTTP) a request to `/` is answered.
 */
export async function boot(
  rt: RuntimeName,
  args: string[],
  workers = 1,
  opts: { env?: Record<string, string>; cwd?: string; probe?: boolean } = {},
): Promise<{ g: Guvnor; base: string; port: number }> {
  const port = await freePort();
  const g = new Guvnor(rt, ["-b", `127.0.0.1:${port}`, "-w", String(workers), ...args], { env: opts.env, cwd: opts.cwd });
  const base = `http://127.0.0.1:${port}`;
  await g.ready(workers, opts.probe === false ? undefined : `${base}/`);
  return { g, base, port };
}

/** TERM, expect exit 0, and no worker left. */
export async function stopCleanly(g: Guvnor): Promise<void> {
  g.signal("SIGTERM");
  assert.deepEqual(await g.exit(), { code: 0, signal: null }, g.stderr);
  await gone(g.workerPids());
}
