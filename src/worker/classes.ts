// Resolves --worker-class: a built-in name, or `path/to/file.ts:ClassName` (a Worker subclass).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { GuvnorError } from "../errors.ts";
import { Worker } from "./base.ts";

export type WorkerClass = new (...args: ConstructorParameters<typeof Worker>) => Worker;

const ENTRY_URL = new URL("../index.ts", import.meta.url);
const GUVNOR_ENTRY = ENTRY_URL.protocol === "file:" ? fileURLToPath(ENTRY_URL) : ENTRY_URL.href; // https: when run from JSR
// Imported when named: a fetch worker never loads node:http for the node worker.
const BUILTIN: Record<string, () => Promise<WorkerClass>> = {
  fetch: async () => (await import("./fetch.ts")).FetchWorker,
  node: async () => (await import("./node.ts")).NodeWorker,
};

/** True for `fetch` and `node`, whose apps guvnor itself knows how to check. */
export const isBuiltinWorkerClass = (spec: string): boolean => Object.hasOwn(BUILTIN, spec);

export async function loadWorkerClass(spec: string, cwd: string): Promise<WorkerClass> {
  if (isBuiltinWorkerClass(spec)) return await BUILTIN[spec]();
  const m = spec.match(/^(.+):([A-Za-z_$][\w$]*)$/);
  const bad = (why: string, cause?: unknown) => {
    const err = new GuvnorError("E_WORKER_CLASS", `Worker class "${spec}" ${why}`, { cause });
    // The message says it all; guvnor's own frames would bury it. A cause keeps its stack.
    err.stack = `${err.name}: ${err.message}`;
    return err;
  };
  if (!m) throw bad(`is not one of ${Object.keys(BUILTIN).join(", ")} or path/to/file.ts:ClassName`);
  const file = path.resolve(cwd, m[1]);
  if (!fs.existsSync(file)) throw bad(`not found: no file ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    throw bad(`failed to import: ${(err as Error).message}`, err);
  }
  const cls = mod[m[2]];
  if (typeof cls !== "function") {
    const names = Object.keys(mod).join(", ") || "nothing";
    throw bad(`not found: ${m[1]} has no ${m[2] in mod ? "class" : "export"} "${m[2]}" (it exports: ${names})`);
  }
  if (!(cls.prototype instanceof Worker)) {
    // Two copies of guvnor (say a global bunx and the project's node_modules) make two Worker classes.
    const foreign = ancestorNamed(cls, "Worker");
    throw bad(foreign
      ? `extends the Worker of another copy of guvnor: its import { Worker } must resolve to the guvnor that runs it (${GUVNOR_ENTRY})`
      : `is not a subclass of Worker: export class ${m[2]} extends Worker (import { Worker } from "guvnor")`);
  }
  // Caught here, not when run() throws: a worker that dies after booting would be respawned forever.
  if (cls.prototype.run === Worker.prototype.run) {
    throw bad(`does not implement run(): define async run() that serves this.sockets until this.stopRequested() resolves (docs/custom-workers.md)`);
  }
  return cls as WorkerClass;
}

function ancestorNamed(cls: object, name: string): boolean {
  for (let p = Object.getPrototypeOf(cls); typeof p === "function" && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    if (p.name === name) return true;
  }
  return false;
}
