// The worker process's entry: rebuild the Worker from what the arbiter handed over, run it, and
// turn each way out into gunicorn's exit codes (3: could not boot, 4: app failed to load), with
// the workerExit hook run on every one of them.
import process from "node:process";
import { AppLoadError, ExitCode, WorkerBootError } from "../errors.ts";
import { importApp } from "../app/load.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { openSink, type Sink } from "../log/sink.ts";
import { setCloexec } from "../sockets/libc.ts";
import { closeFd, mapShared, takeFile } from "../sys/memory.ts";
import { startSession } from "../sys/process.ts";
import { loadWorkerClass, type WorkerClass } from "./classes.ts";
import { HandoffError, takeWorkerState, WORKER_ENV, type WorkerState } from "../handoff.ts";
import { SCOREBOARD_SIZE, Scoreboard } from "./scoreboard.ts";
import type { AppSource, Worker } from "./base.ts";
import { takeBalanceTable } from "./balance.ts";
import { ArbiterWake } from "./wake.ts";
import { setTitle } from "../title.ts";
import type { TlsMaterial } from "../runtime/tls.ts";

/** Runs this process as the worker described by GUVNOR_WORKER; `app` replaces importing cfg.app. */
export async function runWorkerFromEnv(app?: AppSource, workerClass?: WorkerClass): Promise<never> {
  let state;
  try {
    state = takeWorkerState();
  } catch (err) {
    if (!(err instanceof HandoffError)) throw err;
    process.stderr.write(`Error: ${err.message}\n`);
    process.exit(ExitCode.WORKER_BOOT_ERROR);
  }
  if (!state) throw new Error(`${WORKER_ENV} is not set: this process was not started by a guvnor arbiter`);
  return await bootstrap(state, app, workerClass);
}

export async function bootstrap(state: WorkerState, appSource?: AppSource, workerClass?: WorkerClass): Promise<never> {
  const { cfg } = state;
  const sink = openErrorLog(cfg.errorLogfile);
  const log = createLogger({ level: cfg.logLevel, sink: () => sink, format: cfg.logFormat });
  let worker: Worker | undefined;
  let code: number = ExitCode.OK;
  try {
    // 1. Our own session (no terminal) and process group, before the app can fork: the arbiter
    //    stops the group with us.
    startSession();
    // 2. What the arbiter handed over: our identity, the scoreboard, the sockets.
    checkIdentity(state);
    const board = openScoreboard(state.scoreboardFd);
    log.info(`Booting worker with pid: ${process.pid}`);
    setTitle("worker", cfg.name);
    // Our copies of the listeners must not leak into processes the app spawns.
    for (const s of state.sockets) setCloexec(s.fd, true);
    if (state.balanceFd !== undefined) takeBalanceTable(state.balanceFd, log);
    if (state.wakeFd !== undefined) setCloexec(state.wakeFd, true);
    // The TLS key, read and its descriptor closed before any code of the app's side runs.
    const tls = state.tls && takeTlsMaterial(state.tls.fd, state.tls.bytes);
    // 3. The worker, its hooks, then the app, loaded and served by initProcess().
    const WorkerClass = workerClass ?? await loadWorkerClass(cfg.workerClass, state.cwd);
    const app = appSource ?? { spec: cfg.app, load: () => importApp(cfg.app, state.cwd) };
    worker = new WorkerClass(state.age, state.ppid, state.sockets, app, cfg.timeout, cfg, log.withTag(`worker:${state.age}`));
    worker.board = board;
    if (state.wakeFd !== undefined) worker.wake = new ArbiterWake(state.wakeFd);
    worker.onReopenLogs = () => {
      try {
        sink.reopen();
      } catch (err) {
        log.warn(`Can't reopen the error log, keeping the old one: ${(err as Error).message}`);
      }
    };
    worker.tls = tls;
    if (state.hooks) {
      // Hooks are functions: the worker loads the config file again, only when it defines some.
      const { loadHooks } = await import("../config/load.ts");
      worker.hooks = await loadHooks(state.hooks.file, state.cwd);
    }
    await worker.initProcess();
  } catch (err) {
    code = exitCodeOf(err, worker, log);
  }
  await worker?.callHook("workerExit");
  process.exit(code);
}

/** The TLS material from the memfd the arbiter made (see handoff.ts); the descriptor is closed. */
function takeTlsMaterial(fd: number, bytes: number): TlsMaterial {
  const m = JSON.parse(new TextDecoder().decode(takeFile(fd, bytes))) as TlsMaterial;
  if (typeof m?.cert !== "string" || typeof m.key !== "string") throw new HandoffError("the TLS material handed over is not a certificate and key");
  return m;
}

function exitCodeOf(err: unknown, worker: Worker | undefined, log: Logger): number {
  if (err instanceof WorkerBootError) log.error(err.message);
  else log.error("Exception in worker process", err);
  if (err instanceof AppLoadError) return ExitCode.APP_LOAD_ERROR;
  // Failing before it ever served (its first notify()) is failing to boot, whatever threw: the
  // arbiter stops instead of starting the same failure again and again.
  const served = worker?.board?.serving ?? worker?.booted;
  return served && !(err instanceof WorkerBootError) ? 1 : ExitCode.WORKER_BOOT_ERROR;
}

/** --user/--group: the arbiter started us as that user; anything else is refused, never served. */
function checkIdentity(state: WorkerState): void {
  const ids = state.ids, uid = process.getuid?.(), gid = process.getgid?.();
  if (ids && (uid !== ids.uid || gid !== ids.gid)) {
    throw new WorkerBootError(`Worker runs as uid ${uid} gid ${gid}, expected uid ${ids.uid} gid ${ids.gid}: refusing to serve`);
  }
}

/** Maps the scoreboard the arbiter handed over, then closes the descriptor (the mapping stays). */
function openScoreboard(fd: number): Scoreboard {
  let board: Scoreboard;
  try {
    board = new Scoreboard(mapShared(fd, SCOREBOARD_SIZE).bytes);
  } catch (err) {
    throw new WorkerBootError(`Can't map the scoreboard the arbiter handed over (fd ${fd}): ${(err as Error).message}`, { cause: err });
  } finally {
    closeFd(fd);
  }
  if (!board.valid) throw new WorkerBootError(`fd ${fd} is not a guvnor scoreboard`);
  return board;
}

/** The error log as this worker's user can open it; stderr (with a line saying why) when it cannot. */
function openErrorLog(file: string): Sink {
  try {
    return openSink(file || "-", "stderr");
  } catch (err) {
    process.stderr.write(`Warning: can't open --error-logfile ${file} in the worker: ${(err as Error).message}; logging to stderr\n`);
    return openSink("-", "stderr");
  }
}
