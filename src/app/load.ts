// Loads the user's module and resolves the exported app.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { AppLoadError, ConfigError } from "../errors.ts";
import { runtime } from "../runtime/index.ts";
import type { FetchHandler } from "../types.ts";

/** `path/to/module.ts[:name]` split into its parts. */
export function parseAppSpec(spec: string): { module: string; name: string } {
  const m = spec.match(/^(.*):([A-Za-z_$][\w$]*)$/);
  return m ? { module: m[1], name: m[2] } : { module: spec, name: "default" };
}

/** What the module exported, sorted by which worker class can serve it. */
export type ResolvedApp =
  | { kind: "fetch"; fetch: FetchHandler; value: unknown }
  | { kind: "node"; listener: (req: unknown, res: unknown) => void; value: unknown };

/** The module file, or an AppLoadError naming the spec when it does not exist. */
export function appModulePath(spec: string, cwd: string): string {
  const { module } = parseAppSpec(spec);
  if (!module) throw new ConfigError("No app given: guvnor [OPTIONS] APP, e.g. guvnor app.ts");
  const abs = path.resolve(cwd, module);
  if (!runtime.exists(abs)) throw new AppLoadError(`App module not found: ${module} (looked for ${abs})`);
  return abs;
}

/** Imports the module and returns the raw export. */
export async function importApp(spec: string, cwd: string): Promise<unknown> {
  const file = appModulePath(spec, cwd);
  const { name } = parseAppSpec(spec);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    throw new AppLoadError(`App module ${parseAppSpec(spec).module} failed to import: ${importErrorText(err)}`, { cause: err });
  }
  if (!(name in mod)) {
    const names = Object.keys(mod).join(", ") || "nothing";
    throw new AppLoadError(`App module ${parseAppSpec(spec).module} has no export "${name}" (it exports: ${names})`);
  }
  return mod[name];
}

const describe = (v: unknown) => v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object without a fetch method" : `a ${typeof v}`;

/** Sorts an export into fetch-style or Node-style, or throws naming what it got. */
export function resolveApp(value: unknown, spec: string): ResolvedApp {
  const where = `App "${spec}"`;
  if (value && typeof value === "object" && typeof (value as { fetch?: unknown }).fetch === "function") {
    const obj = value as { fetch: FetchHandler };
    return { kind: "fetch", fetch: (req, info) => obj.fetch(req, info), value };
  }
  if (typeof value === "function") {
    // A (req, res[, next]) function is a Node listener (an Express app is one); (request) is fetch-style.
    if (value.length >= 2) return { kind: "node", listener: value as (req: unknown, res: unknown) => void, value };
    return { kind: "fetch", fetch: value as FetchHandler, value };
  }
  if (value && typeof value === "object") {
    for (const key of ["handle", "callback", "listener"]) {
      const f = (value as Record<string, unknown>)[key];
      if (typeof f === "function" && key === "callback") return { kind: "node", listener: (f as () => (a: unknown, b: unknown) => void).call(value), value };
      if (typeof f === "function" && f.length >= 2) return { kind: "node", listener: (f as (a: unknown, b: unknown) => void).bind(value), value };
    }
  }
  throw new AppLoadError(
    `${where} is not an app: expected an object with a fetch(request) method, a function (request) => Response, or a Node (req, res) listener (got ${describe(value)})`,
  );
}

/** The app as the built-in worker class `kind` serves it, or the error that says which class to use instead. */
export function expectAppKind<K extends ResolvedApp["kind"]>(app: ResolvedApp, kind: K, spec: string): Extract<ResolvedApp, { kind: K }> {
  if (app.kind === kind) return app as Extract<ResolvedApp, { kind: K }>;
  throw new AppLoadError(app.kind === "node"
    ? `App "${spec}" is a Node-style (req, res) listener: serve it with --worker-class node`
    : `App "${spec}" is a fetch-style app: serve it with --worker-class fetch`);
}

/**
 * An import error's message with where it happened. Bun reports a syntax error as a BuildMessage
 * whose message has no location (it is in `position`); Deno's message already carries a code frame.
 */
export function importErrorText(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const pos = (err as { position?: { file?: string; line?: number; column?: number; lineText?: string } })?.position;
  if (!pos?.file) return message;
  return `${message}\n    at ${pos.file}:${pos.line}:${pos.column}${pos.lineText ? `\n    | ${pos.lineText}` : ""}`;
}
