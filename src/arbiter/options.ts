// What an Arbiter is built from, and the state of a reload in progress.
import type { Hooks } from "../config/hooks.ts";
import type { Logger } from "../log/logger.ts";
import type { Config } from "../types.ts";

export interface ArbiterOptions {
  cfg: Config;
  hooks: Hooks;
  /** Directory the app path is relative to. */
  cwd: string;
  log: Logger;
  /** Reopens the arbiter's own log files (USR1). */
  reopenLogs: () => void;
  /** argv that starts a worker process for a config. */
  workerCommand: (cfg: Config) => string[];
  /** argv (and the directory it was started in) that starts a new arbiter from the executable on disk (USR2). */
  upgradeCommand: () => { cmd: string[]; cwd: string };
  /** Loads the config again (HUP); rejects with a ConfigError. */
  reloadConfig: () => Promise<{ cfg: Config; hooks: Hooks }>;
}

/** A HUP in progress: what to go back to if the new generation cannot boot. */
export interface Reload {
  generation: number;
  previous: { cfg: Config; hooks: Hooks; generation: number };
}
