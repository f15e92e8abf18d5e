// The environment a worker starts from: the one guvnor itself was started with. Bun adds the
// variables of a `.env` file in the directory it starts in to process.env; passed on, they
// would reach Deno workers too, ignore --chdir, and outlive an edit of the file across HUP. So a
// worker gets only the variables the operating system gave guvnor (still as guvnor has them:
// the ones it took out for itself stay out), and a Bun worker loads the app directory's `.env`
// itself, as `bun app.ts` run there would.
import fs from "node:fs";
import process from "node:process";

/** Names in this process's environment at exec (Linux /proc), or null where that cannot be read. */
function namesAtExec(): Set<string> | null {
  try {
    const raw = fs.readFileSync("/proc/self/environ", "utf8");
    return new Set(raw.split("\0").filter(Boolean).map((kv) => kv.slice(0, kv.indexOf("="))));
  } catch {
    return null;
  }
}

const AT_EXEC = namesAtExec();

/** process.env without what the runtime added after exec (a `.env` file's variables). */
export function launchEnvironment(env: Record<string, string | undefined> = process.env): Record<string, string | undefined> {
  if (!AT_EXEC) return env;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (AT_EXEC.has(k)) out[k] = v;
  return out;
}
