// --reload (development): watch the app's directory tree and the config file; a change reloads the
// workers the way HUP does, so a syntax error keeps the old workers serving.
import fs from "node:fs";
import path from "node:path";
import { parseAppSpec } from "../app/load.ts";
import type { Logger } from "../log/logger.ts";
import type { Config } from "../types.ts";

const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "coverage"]);
const SOURCE = /\.(m|c)?(t|j)sx?$|\.json$/;
const MAX_DIRS = 500;

/** --reload: watches the app's directory and the config file; `reload` is called (debounced) on a change. */
export function watchForReload(cfg: Config, cwd: string, log: Logger, reload: () => void): () => void {
  const root = cfg.app ? path.dirname(path.resolve(cwd, parseAppSpec(cfg.app).module)) : cwd;
  log.info(`Watching ${root} for changes (--reload)`);
  return watchSources(root, [cfg.config], (file) => {
    log.info(`Reloading: ${path.relative(cwd, file) || file} changed`);
    reload();
  });
}

/** Watches `root` (without node_modules and friends) and `files`; calls onChange debounced. Returns a stop function. */
export function watchSources(root: string, files: string[], onChange: (file: string) => void): () => void {
  const watchers: fs.FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = (file: string) => {
    if (!SOURCE.test(file) && !files.includes(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => onChange(file), 200); // editors write a file in several steps
  };
  // One non-recursive watch per directory: a recursive one would also watch node_modules.
  const dirs = [root];
  for (let i = 0; i < dirs.length && dirs.length < MAX_DIRS; i++) {
    for (const e of safeReaddir(dirs[i])) {
      if (e.isDirectory() && !SKIP_DIRS.has(e.name) && !e.name.startsWith(".")) dirs.push(path.join(dirs[i], e.name));
    }
  }
  for (const dir of dirs) {
    try {
      watchers.push(fs.watch(dir, (_event, name) => name && changed(path.join(dir, String(name)))));
    } catch { /* vanished */ }
  }
  for (const file of files) {
    if (file && !file.startsWith(root + path.sep)) {
      try {
        watchers.push(fs.watch(file, () => changed(file)));
      } catch { /* not there */ }
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}

function safeReaddir(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}
