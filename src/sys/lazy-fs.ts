// node:fs, set up at its first call. For modules every worker loads that touch files only on some
// paths (a log file, a unix socket's directory): Deno takes ~8 ms and ~2 MiB to set up node:fs,
// and a worker that serves TCP and logs to stderr never needs it (the runtime adapter's file calls
// cover the rest).
import type nodeFs from "node:fs";
import process from "node:process";

const fs: typeof nodeFs = new Proxy({} as typeof nodeFs, {
  get: (_, key) => Reflect.get(process.getBuiltinModule("node:fs"), key),
});

export default fs;
