// --reload (development): watch the app's directory tree and the config file; a change reloads the
// workers the way HUP does, so a syntax error keeps the old workers serving.
import fs from "node:fs";
import path from "node:path";

const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "coverage"]);
const SOURCE = /\.(m|c)?(t|j)sx?$|\.json$/;
const MAX_DIRS = 500;

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
