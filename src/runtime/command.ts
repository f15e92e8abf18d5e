// How to start a script on either runtime, whichever one we are running on (--runtime).
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime } from "./index.ts";

export type RuntimeName = "bun" | "deno";

const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The executable of `target`: our own, else node_modules/.bin (the npm packages), else PATH. */
export function runtimeExecutable(target: RuntimeName): string {
  if (target === runtime.name) return runtime.execPath;
  const dirs = [path.join(PACKAGE_ROOT, "node_modules", ".bin"), ...(process.env.PATH ?? "").split(path.delimiter)];
  for (const dir of dirs) {
    const exe = path.join(dir, target);
    try {
      fs.accessSync(exe, fs.constants.X_OK);
      return exe;
    } catch {
      // keep looking
    }
  }
  throw new Error(`Cannot find the ${target} executable (looked in node_modules/.bin and PATH)`);
}

/** argv that runs `script` on `target`. */
export function scriptCommand(target: RuntimeName, script: string): string[] {
  const exe = runtimeExecutable(target);
  // Deno: all permissions (the app is the user's own code), and --unstable-net so that
  // Deno.serve({ reusePort }) does not exit the process with code 70 (runtime-facts §0).
  return target === "bun" ? [exe, script] : [exe, "run", "-A", "--unstable-net", script];
}
