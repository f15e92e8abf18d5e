// The library API. Only re-exports.
export { serve } from "./serve.ts";
export type { ServeOptions } from "./serve.ts";
export { Worker } from "./worker/base.ts";
export type { AppSource } from "./worker/base.ts";
export type { Config, SocketInfo, WorkerConfig, FetchApp, FetchHandler, RemoteAddr, ServeInfo, UserConfig } from "./types.ts";
export { defineConfig } from "./config/define.ts";
export { AddressError, AppLoadError, ConfigError, ExitCode, GuvnorError, WorkerBootError } from "./errors.ts";

// `deno run -A jsr:@guvnor/guvnor app.ts` runs this module: then it is the guvnor command.
if (import.meta.main) await import("./cli/main.ts");
