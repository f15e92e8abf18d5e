// The worker process's entry: rebuild the Worker from what the arbiter handed over, run it,
// and turn each way out into gunicorn's exit codes (3: could not boot, 4: app failed to load).
import process from "node:process";
import { AppLoadError, ExitCode } from "../errors.ts";
import { importApp } from "../app/load.ts";
import { createLogger } from "../log/logger.ts";
import { openSink } from "../log/sink.ts";
import { dropPrivileges, setCloexec } from "../sockets/libc.ts";
import { loadWorkerClass, type WorkerClass } from "./classes.ts";
import { type WorkerState, workerStateFromEnv } from "./state.ts";
import { takeBalanceTable } from "./balance.ts";
import type { AppSource } from "./base.ts";
import { loadHooks } from "../config/load.ts";
import { setTitle } from "../title.ts";

/** Runs this process as the worker described by GUVNOR_WORKER; `app` replaces importing cfg.app. */
export async function runWorkerFromEnv(app?: AppSource, workerClass?: WorkerClass): Promise<never> {
  const state = workerStateFromEnv();
  if (!state) throw new Error("GUVNOR_WORKER is not set: this process was not started by a guvnor arbiter");
  return await bootstrap(state, app, workerClass);
}

export async function bootstrap(state: WorkerState, appSource?: AppSource, workerClass?: WorkerClass): Promise<never> {
  const { cfg } = state;
  const sink = openSink(cfg.errorLogfile || "-", "stderr");
  const log = createLogger({ level: cfg.logLevel, sink: () => sink, format: cfg.logFormat });
  // --user/--group: the arbiter bound the sockets; the app never runs with its privileges.
  if (state.ids) {
    try {
      dropPrivileges(state.ids.uid, state.ids.gid);
    } catch (err) {
      log.error(`Can't switch to uid ${state.ids.uid} gid ${state.ids.gid}: ${(err as Error).message}`);
      process.exit(ExitCode.WORKER_BOOT_ERROR);
    }
  }
  log.info(`Booting worker with pid: ${process.pid}`);
  setTitle("worker", cfg.name);
  // Our copies of the listeners must not leak into processes the app spawns.
  for (const s of state.sockets) setCloexec(s.fd, true);
  if (state.balanceFd !== undefined) takeBalanceTable(state.balanceFd, log);

  let worker;
  try {
    const WorkerClass = workerClass ?? await loadWorkerClass(cfg.workerClass, state.cwd);
    const app = appSource ?? { spec: cfg.app, load: () => importApp(cfg.app, state.cwd) };
    worker = new WorkerClass(state.age, state.ppid, state.sockets, app, cfg.timeout, cfg, log.withTag(`worker:${state.age}`));
    worker.onReopenLogs = () => sink.reopen();
    worker.tls = state.tls;
    if (state.hooks.length && cfg.config) worker.hooks = await loadHooks(cfg.config, state.cwd);
  } catch (err) {
    log.error("Exception in worker process", err);
    process.exit(err instanceof AppLoadError ? ExitCode.APP_LOAD_ERROR : ExitCode.WORKER_BOOT_ERROR);
  }
  try {
    await worker.initProcess();
  } catch (err) {
    log.error("Exception in worker process", err);
    if (err instanceof AppLoadError) process.exit(ExitCode.APP_LOAD_ERROR);
    process.exit(worker.booted ? 1 : ExitCode.WORKER_BOOT_ERROR);
  }
  await worker.callHook("workerExit");
  process.exit(0);
}
