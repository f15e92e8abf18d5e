// How to start a script on either runtime, whichever one we are running on (--runtime).
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime } from "./index.ts";
import { ConfigError } from "../errors.ts";

export type RuntimeName = "bun" | "deno";

// Run from JSR, this module has an https: URL and no node_modules beside it.
const PACKAGE_ROOT = import.meta.url.startsWith("file:") ? fileURLToPath(new URL("../../", import.meta.url)) : "";

/** The executable of `target`: our own, else node_modules/.bin (the npm packages), else PATH. */
export function runtimeExecutable(target: RuntimeName): string {
  if (target === runtime.name) return runtime.execPath;
  const dirs = [...(PACKAGE_ROOT ? [path.join(PACKAGE_ROOT, "node_modules", ".bin")] : []), ...(process.env.PATH ?? "").split(path.delimiter)];
  for (const dir of dirs) {
    const exe = path.join(dir, target);
    try {
      fs.accessSync(exe, fs.constants.X_OK);
      return exe;
    } catch {
      // keep looking
    }
  }
  throw new ConfigError(`--runtime ${target}: cannot find the ${target} executable (looked in node_modules/.bin and PATH)`);
}

/** argv that runs `script` on `target`. */
export function scriptCommand(target: RuntimeName, script: string): string[] {
  const exe = runtimeExecutable(target);
  // Deno: all permissions (the app is the user's own code), and --unstable-net so that
  // Deno.serve({ reusePort }) does not exit the process with code 70 (without the flag Deno
  // prints "Unstable API" and exits; it is not an exception we could catch).
  return target === "bun" ? [exe, script] : [exe, "run", "-A", "--unstable-net", script];
}

/** True inside a `bun build --compile` / `deno compile` executable. */
export function isCompiled(): boolean {
  if (runtime.name === "bun") return /^(\/\$bunfs\/|B:[\\/]~BUN[\\/])/.test(process.argv[1] ?? "");
  return !path.basename(process.execPath).startsWith("deno");
}

/**
 * argv that starts this same program again: a worker is the program re-executed (the CLI, a
 * compiled guvnor, or a user's program that calls serve()), so all three work the same way.
 * A compiled executable is run as is; a script is run by its runtime.
 */
export function selfCommand(): string[] {
  const args = process.argv.slice(2);
  if (isCompiled()) return [process.execPath, ...args];
  return [...scriptCommand(runtime.name, runtime.mainScript), ...args];
}

/**
 * How to start a worker for `target`: `script` (the worker's own entry, worker/main.ts), or in a
 * compiled guvnor the executable itself, which has no other file to run.
 */
export function workerCommand(target: RuntimeName, script: string): string[] {
  if (isCompiled()) {
    if (target === runtime.name) return selfCommand();
    throw new ConfigError(`--runtime ${target}: a compiled guvnor runs its workers on ${runtime.name} only`);
  }
  if (target === "bun" && /^[a-z]+:\/\//.test(script)) throw new ConfigError(`--runtime bun: Bun cannot run guvnor from ${script}; install guvnor from npm for Bun workers`);
  return scriptCommand(target, script);
}
