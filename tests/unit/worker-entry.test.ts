// What a process loads on its way to serving, following static imports all the way down. A
// worker (src/worker/main.ts): none of the command line, the config loaders or the arbiter, and
// none of the node: modules that cost a process megabytes (node:http, node:net, …), which are
// imported only on the paths that use them (the compat server, TLS, hooks). Not node:fs either:
// Deno takes ~8 ms and ~2 MiB to set it up; the runtime adapter has the few file calls. The
// arbiter: what it needs to bind and spawn, and nothing for --help, ctl or a config file.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** Every module `entry` imports for its values (not `import type`), transitively; packages by name. */
function staticImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    const rel = path.relative(root, file);
    if (seen.has(rel)) return;
    seen.add(rel);
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)([^;]*?)\s+from\s+"([^"]+)"|^\s*import\s+"([^"]+)"/gm)) {
      const names = m[1]?.trim();
      // `import { type A, type B } from` loads nothing either.
      if (names?.startsWith("{") && names.slice(1, -1).split(",").every((n) => /^\s*(type\s|$)/.test(n))) continue;
      const spec = m[2] ?? m[3];
      if (spec.startsWith(".")) visit(path.resolve(path.dirname(file), spec));
      else seen.add(spec);
    }
  };
  visit(path.join(root, entry));
  return seen;
}

it("a worker loads nothing of the CLI, the config loaders or the arbiter, and only light node: modules", () => {
  // Its entry, and the fetch worker (the default class, imported once the config names it).
  const loaded = [...new Set([...staticImports("src/worker/main.ts"), ...staticImports("src/worker/fetch.ts")])];
  assert.ok(loaded.includes("src/worker/bootstrap.ts"), loaded.join(" "));
  const heavy = loaded.filter((m) =>
    /^src\/(cli|arbiter)\//.test(m) || ["src/config/load.ts", "src/config/settings.ts", "src/control/server.ts", "src/control/observer.ts"].includes(m) ||
    ["citty", "c12"].includes(m) || (m.startsWith("node:") && !["node:process", "node:path", "node:url", "node:os"].includes(m))
  );
  assert.deepEqual(heavy, []);
});

it("the arbiter's way to its first worker loads neither citty nor c12, no worker class, and no costly node: module", () => {
  // citty is for --help and ctl, c12 for a config file, node:http for --metrics-bind, node:net for
  // the control socket's server (started after the first spawn): all imported where they are used.
  const loaded = [...staticImports("src/cli/run.ts")];
  assert.ok(loaded.includes("src/arbiter/arbiter.ts"), loaded.join(" "));
  const heavy = loaded.filter((m) =>
    ["citty", "c12", "src/worker/fetch.ts", "src/worker/node.ts", "src/control/http.ts", "src/cli/command.ts"].includes(m) ||
    ["node:http", "node:net", "node:tls", "node:crypto", "node:dns", "node:dns/promises", "node:tty"].includes(m)
  );
  assert.deepEqual(heavy, []);
});
