// Picks the adapter for the runtime we are running on: the one place that looks at the globals.
import type { Runtime } from "./types.ts";

export type { ChildProcessHandle, Closable, ExitStatus, NativeHandler, NativeInfo, NativeServer, Runtime, SpawnOptions } from "./types.ts";

export const runtime: Runtime = "Bun" in globalThis
  ? (await import("./bun.ts")).bun
  : (await import("./deno.ts")).deno;
