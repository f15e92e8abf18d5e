// The library API: serve() supervises in the arbiter and serves in a worker, which is
// this same program started again — so it works unchanged inside a compiled executable.
import process from "node:process";
import { ExitCode, GuvnorError } from "./errors.ts";
import type { UserConfig } from "./types.ts";
import type { Hooks } from "./config/hooks.ts";
import { WORKER_ENV } from "./handoff.ts";
import type { WorkerClass } from "./worker/classes.ts";

/** serve()'s options: any setting, hooks, and the app itself (not a path). */
export type ServeOptions = Omit<UserConfig, "app" | "workerClass"> & Hooks & {
  /** The app: `{ fetch }`, a `(request) => Response` function, or a Node `(req, res)` listener. */
  app: unknown;
  /** `fetch`, `node`, `path.ts:ClassName`, or a Worker subclass itself (works in a compiled program). */
  workerClass?: string | WorkerClass;
};

/**
 * Runs guvnor with `options.app`. In the arbiter it binds, supervises and returns only to exit the
 * process; in a worker it serves. Environment variables (GUVNOR_WORKERS, …) override the options.
 */
export async function serve(options: ServeOptions): Promise<never> {
  const { app, workerClass: cls, ...rest } = options;
  // A class given in code reaches the worker the way the app does: this same program, re-run.
  const settings = typeof cls === "function" ? { ...rest, workerClass: `serve():${cls.name || "Worker"}` } : { ...rest, workerClass: cls };
  // Each side imports only its own half: a worker loads nothing of the arbiter or the config loaders.
  if (process.env[WORKER_ENV]) {
    const { runWorkerFromEnv } = await import("./worker/bootstrap.ts");
    return await runWorkerFromEnv({ spec: "serve({ app })", load: () => Promise.resolve(app) }, typeof cls === "function" ? cls : undefined);
  }

  const [{ runArbiter }, { resolveApp }, { resolveConfig }, { openSink }, { selfCommand }] = await Promise.all([
    import("./arbiter/launch.ts"), import("./app/load.ts"), import("./config/load.ts"), import("./log/sink.ts"), import("./runtime/command.ts"),
  ]);
  const stderr = openSink("-", "stderr");
  const load = async () => {
    const r = await resolveConfig([], process.env, process.cwd(), { raw: settings as Record<string, unknown>, name: "serve() options" });
    // The app is in memory: workers get it from this program, not from a path.
    // A Node-style listener (an Express app) needs the node worker unless one was named.
    const nodeStyle = r.config.workerClass === "fetch" && !settings.workerClass && resolveApp(app, "serve({ app })").kind === "node";
    const workerClass = nodeStyle ? "node" : r.config.workerClass;
    return { cfg: { ...r.config, app: "", workerClass }, hooks: r.hooks };
  };
  let code: number;
  const cwd = process.cwd();
  try {
    const { cfg, hooks } = await load();
    code = await runArbiter({
      cfg, hooks, cwd, stderr, reloadConfig: load,
      workerCommand: () => selfCommand(), upgradeCommand: () => ({ cmd: selfCommand(), cwd }),
    });
  } catch (err) {
    if (!(err instanceof GuvnorError)) throw err;
    stderr.write(`Error: ${err.message}\n`);
    code = err.exitCode ?? ExitCode.USAGE;
  }
  process.exit(code);
}
