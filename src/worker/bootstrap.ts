// The worker process's entry: rebuild the Worker from what the arbiter handed over, run it,
// and turn each way out into gunicorn's exit codes (3: could not boot, 4: app failed to load).
import process from "node:process";
import { AppLoadError, ExitCode } from "../errors.ts";
import { importApp } from "../app/load.ts";
import { createLogger } from "../log/logger.ts";
import { openSink } from "../log/sink.ts";
import type { SocketInfo } from "../sockets/listeners.ts";
import { setCloexec } from "../sockets/libc.ts";
import type { Config } from "../types.ts";
import { loadWorkerClass } from "./classes.ts";
import { loadHooks } from "../config/load.ts";

/** What the arbiter serializes into GUVNOR_WORKER for each worker. */
export interface WorkerState {
  age: number;
  ppid: number;
  sockets: SocketInfo[];
  cfg: Config;
  /** Directory the app and worker class paths are relative to. */
  cwd: string;
  /** Worker-side hooks the config file defines; the worker loads the file again only then. */
  hooks: string[];
}

export const WORKER_ENV = "GUVNOR_WORKER";

export async function bootstrap(state: WorkerState): Promise<never> {
  const { cfg } = state;
  let sink = openSink(cfg.errorLogfile || "-", "stderr");
  const log = createLogger({ level: cfg.logLevel, sink: () => sink });
  log.info(`Booting worker with pid: ${process.pid}`);
  // Our copies of the listeners must not leak into processes the app spawns.
  for (const s of state.sockets) setCloexec(s.fd, true);

  let worker;
  try {
    const WorkerClass = await loadWorkerClass(cfg.workerClass, state.cwd);
    const app = { spec: cfg.app, load: () => importApp(cfg.app, state.cwd) };
    worker = new WorkerClass(state.age, state.ppid, state.sockets, app, cfg.timeout, cfg, log.withTag(`worker:${state.age}`));
    worker.onReopenLogs = () => sink.reopen();
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
