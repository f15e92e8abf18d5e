// Starting an arbiter, the same way for the CLI and for the library's serve(): its error log,
// its logger, and the run whose exit code the process exits with.
import { ConfigError } from "../errors.ts";
import { createLogger } from "../log/logger.ts";
import { openSink, type Sink } from "../log/sink.ts";
import { Arbiter } from "./arbiter.ts";
import type { ArbiterOptions } from "./options.ts";

export type LaunchOptions = Omit<ArbiterOptions, "log" | "reopenLogs"> & {
  /** Where lines go until the error log is open, and when it is "-". */
  stderr: Sink;
};

/** Runs an arbiter to its end; resolves to the exit code. A bad --error-logfile is a ConfigError. */
export async function runArbiter(opts: LaunchOptions): Promise<number> {
  const { stderr, ...rest } = opts;
  const file = opts.cfg.errorLogfile;
  let sink: Sink = stderr;
  if (file && file !== "-") {
    try {
      sink = openSink(file, "stderr");
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === "ELOOP" ? "it is a symbolic link" : code === "ENOENT" ? "its directory does not exist" : code ?? String(err);
      throw new ConfigError(`--error-logfile ${file}: can't open it: ${why}`, { cause: err });
    }
  }
  const log = createLogger({ level: opts.cfg.logLevel, sink: () => sink, format: opts.cfg.logFormat });
  try {
    return await new Arbiter({ ...rest, log, reopenLogs: () => sink.reopen() }).run();
  } finally {
    if (sink !== stderr) sink.close();
  }
}
