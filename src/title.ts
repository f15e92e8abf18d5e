// Process titles as gunicorn: "guvnor: master [name]", "guvnor: worker [name]".
import process from "node:process";
import { runtime } from "./runtime/index.ts";

export function setTitle(role: "master" | "worker", name: string): void {
  const title = `guvnor: ${role}${name ? ` [${name}]` : ""}`;
  try {
    process.title = title; // Deno rewrites /proc/PID/cmdline; Bun keeps it in JS only (ps never sees it)
  } catch { /* not supported */ }
  try {
    // The kernel's name (ps -o comm, top), 15 bytes, on both runtimes: "guvnor: master " leaves
    // no room for a name, so a named process is "NAME: master" there.
    runtime.writeTextFile("/proc/self/comm", (name ? `${name}: ${role}` : title).slice(0, 15));
  } catch { /* not Linux */ }
}
