// The arbiter's decisions against a fake machine (src/arbiter/context.ts): no process is started,
// the clock is the test's, and each test runs in milliseconds. The real processes are the
// behavioural suites' business.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { Arbiter } from "../../src/arbiter/arbiter.ts";
import type { ArbiterContext } from "../../src/arbiter/context.ts";
import { resolveConfig } from "../../src/config/load.ts";
import type { Hooks } from "../../src/config/hooks.ts";
import { createLogger } from "../../src/log/logger.ts";
import type { ExitStatus, SpawnOptions } from "../../src/runtime/index.ts";
import type { Config } from "../../src/types.ts";
import { takeWorkerState } from "../../src/handoff.ts";
import { Scoreboard } from "../../src/worker/scoreboard.ts";

class FakeProcess {
  readonly signals: string[] = [];
  readonly exited: Promise<ExitStatus>;
  #exit!: (s: ExitStatus) => void;
  constructor(readonly pid: number, readonly opts: SpawnOptions, readonly board: Scoreboard) {
    this.exited = new Promise((r) => (this.#exit = r));
  }
  kill(signal: string): void {
    this.signals.push(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGQUIT") this.exit({ code: null, signal });
  }
  exit(status: ExitStatus): void {
    this.#exit(status);
  }
}

class FakeMachine implements ArbiterContext {
  readonly runtimeName = "bun" as const;
  readonly procs: FakeProcess[] = [];
  readonly handlers = new Map<string, () => void>();
  t = 1_000_000;
  #next: Scoreboard | undefined;
  #pid = 100;
  spawn(opts: SpawnOptions): FakeProcess {
    const p = new FakeProcess(++this.#pid, opts, this.#next!);
    this.procs.push(p);
    return p;
  }
  childFds = (fds: number[]) => fds;
  onSignal(signal: string, handler: () => void): void {
    this.handlers.set(signal, handler);
  }
  createScoreboard() {
    this.#next = new Scoreboard().init();
    return { fd: 99, board: this.#next, release() {} };
  }
  createSharedMemory = () => 98;
  closeOnExecAll(): void {}
  raiseFdLimit(): void {}
  writeOnlyTerminal(): void {}
  createFileWith = () => 97;
  closeFd(): void {}
  killGroup(): void {}
  rssBytes = () => 0;
  now = () => this.t;
  /** The workers that are alive, as the arbiter would see them exit. */
  live(): FakeProcess[] {
    return this.procs.filter((p) => !p.signals.some((s) => s === "SIGKILL" || s === "SIGTERM" || s === "SIGQUIT"));
  }
  serve(p: FakeProcess): void {
    p.board.beat(this.t);
  }
}

const flush = () => new Promise((r) => setTimeout(r, 1));

async function setup(settings: Partial<Config> = {}, hooks: Hooks = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guvnor-unit-"));
  const base = (await resolveConfig([], {}, dir)).config;
  const cfg: Config = { ...base, bind: [], workers: 1, ...settings };
  const lines: string[] = [];
  const log = createLogger({ level: "debug", sink: () => ({ write: (t) => void lines.push(t), reopen() {}, close() {} }) });
  const m = new FakeMachine();
  let next = cfg;
  const arbiter = new Arbiter({
    cfg, hooks, cwd: dir, log, reopenLogs() {}, workerCommand: () => ["worker"], upgradeCommand: () => ({ cmd: [], cwd: dir }),
    reloadConfig: async () => ({ cfg: next, hooks }),
  }, m);
  await arbiter.start();
  return { arbiter, m, lines, reloadTo: (c: Partial<Config>) => (next = { ...cfg, ...c }) };
}

/** One loop turn after the fake processes' exits have been delivered. */
async function step(arbiter: Arbiter): Promise<void> {
  await flush();
  await arbiter.step();
}

describe("arbiter decisions (fake machine)", () => {
  it("counts a worker as serving only once it says so; --boot-timeout kills one that never does", async () => {
    const { arbiter, m, lines } = await setup({ bootTimeout: 5 });
    assert.equal(m.procs.length, 1);
    await step(arbiter);
    assert.equal(arbiter.workers[0].serving, false);
    m.t += 6000;
    await step(arbiter);
    assert.deepEqual(m.procs[0].signals, ["SIGKILL"]);
    assert.match(lines.join(""), /WORKER BOOT TIMEOUT \(pid:101\)/);
  });

  it("workers killed by --boot-timeout are respawned after a growing delay, not at once", async () => {
    const { arbiter, m } = await setup({ bootTimeout: 5 });
    m.t += 6000;
    await step(arbiter); // never served: SIGKILL
    await step(arbiter); // reaped
    await step(arbiter);
    assert.equal(m.procs.length, 1, "respawned without a delay");
    m.t += 100;
    await step(arbiter);
    assert.equal(m.procs.length, 2);
    m.t += 6000;
    await step(arbiter);
    await step(arbiter);
    m.t += 100;
    await step(arbiter);
    assert.equal(m.procs.length, 2, "the second delay is no longer");
    m.t += 100;
    await step(arbiter);
    assert.equal(m.procs.length, 3);
  });

  it("recycling: the replacement starts first; the old worker is retired only once it serves", async () => {
    const { arbiter, m, lines } = await setup();
    m.serve(m.procs[0]);
    await step(arbiter);
    m.procs[0].board.requestRecycle(1);
    await step(arbiter);
    assert.equal(m.procs.length, 2, "a replacement was spawned");
    assert.deepEqual(m.procs[0].signals, [], "the old one still serves");
    await step(arbiter);
    assert.deepEqual(m.procs[0].signals, [], "still serves while the replacement boots");
    m.serve(m.procs[1]);
    await step(arbiter);
    assert.deepEqual(m.procs[0].signals, ["SIGTERM"]);
    assert.match(lines.join(""), /Recycling worker \(pid:101\): max-requests reached/);
  });

  it("a reload whose new workers cannot boot keeps the old ones, in the old generation", async () => {
    const { arbiter, m, lines } = await setup({ workers: 2 });
    for (const p of m.procs) m.serve(p);
    await step(arbiter);
    m.handlers.get("SIGHUP")!();
    await step(arbiter);
    assert.equal(arbiter.generation, 2);
    assert.equal(m.procs.length, 4);
    m.procs[2].exit({ code: 3, signal: null });
    await step(arbiter);
    assert.equal(arbiter.generation, 1);
    assert.deepEqual(m.procs[3].signals, ["SIGKILL"]);
    assert.deepEqual([m.procs[0].signals, m.procs[1].signals], [[], []], "the old workers were never stopped");
    assert.ok(arbiter.workers.filter((w) => w.generation === 1).every((w) => !w.recycling));
    assert.match(lines.join(""), /Reload failed, keeping the old workers/);
  });

  it("a worker that served and then exits 4 is a crash, not a reason to stop the server", async () => {
    const { arbiter, m } = await setup();
    m.serve(m.procs[0]);
    await step(arbiter);
    m.procs[0].exit({ code: 4, signal: null });
    m.t += 10_000;
    await step(arbiter);
    assert.equal(m.procs.length, 2, "replaced");
  });

  it("a spawn that fails for want of descriptors is retried after a delay, not fatal", async () => {
    const { arbiter, m, lines } = await setup();
    m.serve(m.procs[0]);
    await step(arbiter);
    const spawn = m.spawn.bind(m);
    let fail = true;
    m.spawn = (opts) => {
      if (fail) throw Object.assign(new Error("spawn failed: EMFILE"), { code: "EMFILE" });
      return spawn(opts);
    };
    m.procs[0].exit({ code: 1, signal: null });
    m.t += 10_000;
    await step(arbiter);
    assert.match(lines.join(""), /Can't start a worker: spawn failed: EMFILE/);
    fail = false;
    m.t += 1000;
    await step(arbiter);
    assert.equal(m.procs.length, 2);
  });

  it("a worker that cannot boot halts the arbiter with exit 3 instead of respawning", async () => {
    const { arbiter, m } = await setup();
    m.procs[0].exit({ code: 3, signal: null });
    await flush();
    await assert.rejects(arbiter.step(), (err: { code?: number }) => err.code === 3);
    assert.equal(m.procs.length, 1);
  });

  it("workers dying right after they start (exit 0 too) delay the next spawn, doubling", async () => {
    const { arbiter, m } = await setup();
    m.t += 100;
    m.procs[0].exit({ code: 0, signal: null });
    await step(arbiter);
    assert.equal(m.procs.length, 1, "no respawn within the brake");
    m.t += 100;
    await step(arbiter);
    assert.equal(m.procs.length, 2, "respawned after 100 ms");
    m.procs[1].exit({ code: 0, signal: null });
    await step(arbiter);
    m.t += 100;
    await step(arbiter);
    assert.equal(m.procs.length, 2, "the second delay is longer");
    m.t += 100;
    await step(arbiter);
    assert.equal(m.procs.length, 3);
  });

  it("a silent worker gets SIGABRT, then SIGKILL; the log names its request, printable only", async () => {
    const { arbiter, m, lines } = await setup({ timeout: 30 });
    m.serve(m.procs[0]);
    await step(arbiter);
    m.procs[0].board.traceStarted("GET", "/x?\x1b[31mred\n[ERROR] forged");
    m.t += 31_000;
    await step(arbiter);
    assert.deepEqual(m.procs[0].signals, ["SIGABRT"]);
    const log = lines.join("");
    assert.doesNotMatch(log, /\x1b/);
    assert.match(log, /WORKER TIMEOUT \(pid:101\): no heartbeat for 31\.0 s; last request started: GET \/x\?\?\[31mred\?\[ERROR\] forged/);
    m.t += 1000;
    await step(arbiter);
    assert.deepEqual(m.procs[0].signals, ["SIGABRT", "SIGKILL"]);
  });

  it("a heartbeat from the future does not keep a silent worker alive", async () => {
    const { arbiter, m } = await setup({ timeout: 30 });
    m.procs[0].board.beat(m.t + 3_600_000);
    m.t += 1;
    await step(arbiter);
    m.t += 31_000;
    await step(arbiter);
    // The arbiter times beats by its own clock: a value that never changes again is silence.
    assert.deepEqual(m.procs[0].signals, ["SIGABRT"]);
  });

  it("TERM during a large spawn is handled between spawns", async () => {
    const term = (a: Arbiter) => (a.ctx as FakeMachine).handlers.get("SIGTERM")!();
    const { arbiter, m } = await setup({ workers: 50 }, { postSpawn: term });
    assert.equal(m.procs.length, 1, "the spawn loop stopped at the signal");
    await assert.rejects(step(arbiter), (err: { code?: number }) => err.code === 0);
    assert.ok(m.procs.length <= 2, `spawned ${m.procs.length} after TERM`);
  });

  it("TTIN stops at --max-workers", async () => {
    const { arbiter, m, lines } = await setup({ workers: 2, maxWorkers: 3 });
    for (const _ of [1, 2]) {
      m.handlers.get("SIGTTIN")!();
      await step(arbiter);
    }
    assert.equal(arbiter.numWorkers, 3);
    assert.equal(m.procs.length, 3);
    assert.match(lines.join(""), /TTIN ignored: already at --max-workers 3/);
  });

  it("hands each worker a checked state: its scoreboard, no command-line-only keys, the --user ids", async () => {
    const nobody = fs.readFileSync("/etc/passwd", "utf8").match(/^nobody:[^:]*:(\d+):(\d+):/m);
    const { m } = await setup(nobody ? { user: "nobody" } : {});
    const env = { ...m.procs[0].opts.env };
    const state = takeWorkerState(env)!;
    assert.equal(env.GUVNOR_WORKER, undefined, "taken out of the environment");
    assert.equal(state.age, 1);
    for (const k of ["config", "checkConfig", "printConfig"]) assert.ok(!(k in state.cfg), `${k} rides along`);
    if (nobody) {
      assert.deepEqual(state.ids, { uid: Number(nobody[1]), gid: Number(nobody[2]), named: true });
      if (process.getuid?.() !== Number(nobody[1])) {
        const { cmd, uid } = m.procs[0].opts;
        const viaSetpriv = cmd.some((c) => c.endsWith("/setpriv")) && cmd.includes(`--reuid=${nobody[1]}`) && cmd.includes("--init-groups");
        assert.ok(viaSetpriv || uid === Number(nobody[1]), `not started as --user: ${cmd.join(" ")}`);
      }
    }
    assert.throws(() => takeWorkerState({ GUVNOR_WORKER: JSON.stringify({ ...state, v: 2 }) }), /unknown format/);
    assert.throws(() => takeWorkerState({ GUVNOR_WORKER: JSON.stringify({ ...state, sockets: [{ fd: "3" }] }) }), /sockets/);
  });
});
