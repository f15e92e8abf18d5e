import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { problems } from "../../build.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

it("docs/settings.md, the README options table and the export maps are up to date", () => {
  assert.deepEqual(problems(), []);
});

// What JSR would refuse: no name or version, slow types in the public API, a missing license.
// Works offline (it only checks); run once, under Deno's test runner.
it("the JSR package passes deno publish --dry-run", { skip: !("Deno" in globalThis) && "runs under deno test" }, () => {
  const deno = path.join(root, "node_modules", ".bin", "deno");
  const r = spawnSync(deno, ["publish", "--dry-run", "--allow-dirty"], { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stderr + r.stdout, /Simulating publish of @guvnor\/guvnor@\d+\.\d+\.\d+/);
});
