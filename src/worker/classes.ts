// Resolves --worker-class: a built-in name, or `path/to/file.ts:ClassName` (a Worker subclass).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { GuvnorError } from "../errors.ts";
import { Worker } from "./base.ts";
import { FetchWorker } from "./fetch.ts";
import { NodeWorker } from "./node.ts";

export type WorkerClass = new (...args: ConstructorParameters<typeof Worker>) => Worker;

const BUILTIN: Record<string, WorkerClass> = { fetch: FetchWorker, node: NodeWorker };

export async function loadWorkerClass(spec: string, cwd: string): Promise<WorkerClass> {
  if (BUILTIN[spec]) return BUILTIN[spec];
  const m = spec.match(/^(.+):([A-Za-z_$][\w$]*)$/);
  const bad = (why: string, cause?: unknown) => new GuvnorError("E_WORKER_CLASS", `Worker class "${spec}" ${why}`, { cause });
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
  if (typeof cls !== "function") throw bad(`not found: ${m[1]} has no export "${m[2]}"`);
  if (!(cls.prototype instanceof Worker)) throw bad(`is not a subclass of Worker (import { Worker } from "guvnor")`);
  return cls as WorkerClass;
}
