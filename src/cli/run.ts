// What `guvnor [OPTIONS] APP` does once the arguments are known.
import process from "node:process";
import { fileURLToPath } from "node:url";
import { appModulePath, expectAppKind, importApp, resolveApp } from "../app/load.ts";
import { runArbiter } from "../arbiter/launch.ts";
import { formatConfig, resolveConfig } from "../config/load.ts";
import { ConfigError, ExitCode, GuvnorError } from "../errors.ts";
import { createCliLogger } from "../log/logger.ts";
import { openSink } from "../log/sink.ts";
import { selfCommand, workerCommand as workerCommandFor } from "../runtime/command.ts";
import { runtime } from "../runtime/index.ts";
import { launchEnvironment } from "../arbiter/environment.ts";
import { type Ids, startAs } from "../arbiter/identity.ts";
import { resolveIds } from "../config/users.ts";

// Workers run the worker's own entry, which loads nothing of the CLI; --check-config on another
// runtime runs this CLI. A URL when guvnor runs from JSR (Deno runs a URL as it runs a path).
const script = (url: URL) => url.protocol === "file:" ? fileURLToPath(url) : url.href;
const CLI_MAIN = script(new URL("./main.ts", import.meta.url));
const WORKER_MAIN = script(new URL("../worker/main.ts", import.meta.url));

/** Runs the CLI and returns the exit code; bad input is one line on stderr. */
export async function runCli(argv: string[]): Promise<number> {
  const stderr = openSink("-", "stderr");
  const cliLog = createCliLogger(stderr);
  let checking = false; // --check-config: anything wrong exits 1
  try {
    // 1. The effective config.
    const startCwd = process.cwd();
    const { config: cfg, hooks, unknownEnv } = await resolveConfig(argv, launchEnvironment(), startCwd);
    for (const name of unknownEnv) cliLog.warn(`Warning: ${name} is not a guvnor setting (see guvnor --help); ignoring it`);
    checking = cfg.checkConfig;
    if (cfg.chdir) chdir(cfg.chdir);
    const cwd = process.cwd();
    if (cfg.printConfig) {
      openSink("-", "stdout").write(formatConfig(cfg) + "\n");
      return ExitCode.OK;
    }
    // 2. The app must at least exist, and the workers' runtime be found, before we bind anything.
    appModulePath(cfg.app, cwd);
    workerCommandFor(cfg.runtime, WORKER_MAIN);
    if (cfg.checkConfig) {
      // The app is checked where it will run: on the workers' runtime, which may not be ours, and
      // as --user (importing it runs its code: never as root).
      const ids = resolveIds(cfg.user, cfg.group);
      const drop = ids && (ids.uid !== process.getuid?.() || ids.gid !== process.getgid?.()) ? ids : null;
      if (cfg.runtime !== runtime.name || drop) return await checkOn(cfg.runtime, argv, startCwd, drop);
      const appExport = await importApp(cfg.app, cwd);
      const { isBuiltinWorkerClass, loadWorkerClass } = await import("../worker/classes.ts");
      await loadWorkerClass(cfg.workerClass, cwd);
      // A custom worker class decides for itself what app it can serve.
      if (isBuiltinWorkerClass(cfg.workerClass)) expectAppKind(resolveApp(appExport, cfg.app), cfg.workerClass as "fetch" | "node", cfg.app);
      cliLog.log(`Config OK: ${cfg.app} (worker class ${cfg.workerClass}, ${cfg.workers} worker${cfg.workers === 1 ? "" : "s"})`);
      return ExitCode.OK;
    }
    // 3. The arbiter, logging to the error log from here on.
    return await runArbiter({
      cfg, hooks, cwd, stderr,
      reloadConfig: async () => {
        const next = await resolveConfig(argv, launchEnvironment(), startCwd);
        return { cfg: next.config, hooks: next.hooks };
      },
      workerCommand: (c) => workerCommandFor(c.runtime, WORKER_MAIN),
      upgradeCommand: () => ({ cmd: selfCommand(), cwd: startCwd }),
    });
  } catch (err) {
    if (err instanceof GuvnorError) {
      cliLog.error(err.message);
      if (err.code === "E_APP_LOAD" && err.cause instanceof Error) cliLog.log(err.cause.stack ?? String(err.cause));
      return checking ? ExitCode.USAGE : err.exitCode;
    }
    throw err;
  }
}

/** --check-config on another runtime or as --user: the same check, by this CLI started so. */
async function checkOn(target: "bun" | "deno", argv: string[], cwd: string, ids: Ids | null): Promise<number> {
  // This same program again (selfCommand carries our arguments), or the CLI on the other runtime.
  const cmd = target === runtime.name ? selfCommand() : [...workerCommandFor(target, CLI_MAIN), ...argv];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const as = ids ? startAs(cmd, ids) : { cmd };
  const status = await runtime.spawn({ ...as, env, cwd, fds: [] }).exited;
  return status.code ?? ExitCode.USAGE;
}

function chdir(dir: string): void {
  try {
    process.chdir(dir);
  } catch (err) {
    throw new ConfigError(`--chdir: can't change to ${dir}: ${(err as { code?: string }).code ?? err}`, { cause: err });
  }
}
