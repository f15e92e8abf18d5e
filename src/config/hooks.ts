// Server hooks: functions in the config file, gunicorn's set renamed where fork no longer applies.
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";

export interface HookSpec {
  name: string;
  /** Where it runs. */
  process: "arbiter" | "worker";
  args: string;
  doc: string;
}

export const HOOKS = [
  { name: "onStarting", process: "arbiter", args: "(arbiter)", doc: "Before the listeners are bound." },
  { name: "onReload", process: "arbiter", args: "(arbiter)", doc: "On HUP, after the new config is loaded and before the new workers start." },
  { name: "whenReady", process: "arbiter", args: "(arbiter)", doc: "Once the first workers have booted and are accepting." },
  { name: "preSpawn", process: "arbiter", args: "(arbiter, worker)", doc: "Before a worker process is started (`worker` has `age`; gunicorn's pre_fork)." },
  { name: "postSpawn", process: "arbiter", args: "(arbiter, worker)", doc: "After a worker process is started (`worker` has `pid` and `age`)." },
  { name: "childExit", process: "arbiter", args: "(arbiter, worker, status)", doc: "After a worker has exited; `status` is `{ code, signal }`." },
  { name: "nworkersChanged", process: "arbiter", args: "(arbiter, newValue, oldValue)", doc: "When the wanted number of workers changes (TTIN, TTOU, WINCH, HUP)." },
  { name: "onExit", process: "arbiter", args: "(arbiter)", doc: "Just before the arbiter exits." },
  { name: "postWorkerInit", process: "worker", args: "(worker)", doc: "In the worker, after the app is loaded and before it serves." },
  { name: "workerInt", process: "worker", args: "(worker)", doc: "In the worker, when it gets INT or QUIT, before it exits." },
  { name: "workerAbort", process: "worker", args: "(worker)", doc: "In the worker, when it gets SIGABRT (a timeout) and its event loop can still run." },
  { name: "preRequest", process: "worker", args: "(worker, request)", doc: "In the worker, before the app gets a request: a `Request` for fetch apps, a Node `req` for `-k node`." },
  { name: "postRequest", process: "worker", args: "(worker, request, response)", doc: "In the worker, after the app answered: the `Response`, or Node's `res` once it finished." },
  { name: "workerExit", process: "worker", args: "(worker)", doc: "In the worker, after it stopped serving, just before it exits." },
] as const satisfies readonly HookSpec[];

export type HookName = (typeof HOOKS)[number]["name"];
// deno-lint-ignore no-explicit-any
export type Hooks = Partial<Record<HookName, (...args: any[]) => unknown>>;

const NAMES = new Set<string>(HOOKS.map((h) => h.name));
export const isHookName = (key: string): key is HookName => NAMES.has(key);

/** The hooks in a config file's raw object; a hook that is not a function is an error. */
export function pickHooks(raw: Record<string, unknown>, fileName: string): Hooks {
  const out: Hooks = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!isHookName(key)) continue;
    if (typeof value !== "function") throw new ConfigError(`Hook ${key} in ${fileName} must be a function (got ${typeof value})`);
    out[key] = value as (...args: unknown[]) => unknown;
  }
  return out;
}

/** Runs a hook if defined; its errors are logged, never fatal (gunicorn's behaviour). */
export async function callHook(hooks: Hooks, name: HookName, log: Logger, ...args: unknown[]): Promise<void> {
  const fn = hooks[name];
  if (!fn) return;
  try {
    await fn(...args);
  } catch (err) {
    log.error(`Exception in ${name} hook`, err);
  }
}
