// Build tasks. `bun build.ts compile` builds dist/guvnor, one executable; `bun build.ts docs`
// regenerates docs/settings.md and the README's options table; `bun build.ts check` fails when
// they are stale or when package.json and deno.json (the JSR package) disagree.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { optionsTable, settingsDoc } from "./src/config/docs.ts";
import { VERSION } from "./src/version.ts";

const root = path.dirname(fileURLToPath(import.meta.url));
const file = (p: string) => path.join(root, p);
const BEGIN = "<!-- options:begin -->", END = "<!-- options:end -->";

function readmeWithTable(readme: string): string {
  const a = readme.indexOf(BEGIN), b = readme.indexOf(END);
  if (a === -1 || b === -1) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, a + BEGIN.length)}\n${optionsTable()}\n${readme.slice(b)}`;
}

/** Problems that `check` reports; empty when all is in order. */
export function problems(): string[] {
  const out: string[] = [];
  if (fs.readFileSync(file("docs/settings.md"), "utf8") !== settingsDoc()) out.push("docs/settings.md is stale: run `bun build.ts docs`");
  const readme = fs.readFileSync(file("README.md"), "utf8");
  if (readmeWithTable(readme) !== readme) out.push("README.md options table is stale: run `bun build.ts docs`");
  const pkg = JSON.parse(fs.readFileSync(file("package.json"), "utf8"));
  const deno = JSON.parse(fs.readFileSync(file("deno.json"), "utf8"));
  // package.json: types from src, code from lib (its build); deno.json and the repo's own "guvnor": src.
  const pkgMain = pkg.exports?.["."], denoMain = typeof deno.exports === "string" ? deno.exports : deno.exports?.["."];
  if (pkgMain?.types !== denoMain) out.push(`package.json exports types "${pkgMain?.types}" but deno.json exports "${denoMain}"`);
  if (pkgMain?.default !== denoMain?.replace(/^\.\/src\//, "./lib/").replace(/\.ts$/, ".js")) out.push(`package.json exports "${pkgMain?.default}", not the lib/ build of ${denoMain}`);
  if (deno.imports?.guvnor !== denoMain) out.push(`deno.json maps "guvnor" to "${deno.imports?.guvnor}", not ${denoMain}`);
  // lib/ is generated (prepare); everything else the package names must be in the repository.
  for (const f of [pkg.bin?.guvnor, ...pkg.files]) if (f && f !== "lib" && !fs.existsSync(file(f))) out.push(`package.json names ${f}, which does not exist`);
  // deno.json is also the JSR package (@guvnor/guvnor): it needs a name, and the npm version.
  if (!deno.name) out.push("deno.json has no name: JSR needs one (@guvnor/guvnor)");
  if (deno.version !== pkg.version) out.push(`package.json is ${pkg.version} but deno.json is ${deno.version}`);
  for (const f of Object.values(typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports ?? {})) {
    if (!fs.existsSync(file(String(f)))) out.push(`deno.json exports ${f}, which does not exist`);
  }
  if (VERSION !== pkg.version) out.push(`package.json is ${pkg.version} but src/version.ts says ${VERSION}`);
  return out;
}

/**
 * One executable of guvnor itself: `bun build --compile` (and `deno compile` when DENORT_BIN names
 * a denort binary: deno downloads it otherwise, which this machine cannot). Returns the paths built.
 */
export function compile(outDir = file("dist")): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
  const run = (cmd: string[]) => {
    const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed with exit ${r.status}`);
  };
  const out = [path.join(outDir, "guvnor")];
  run([bin("bun"), "build", "--compile", "src/cli/main.ts", "--outfile", out[0]]);
  if (process.env.DENORT_BIN) {
    out.push(path.join(outDir, "guvnor-deno"));
    run([bin("deno"), "compile", "-A", "--unstable-net", "--no-check", "--output", out[1], "src/cli/main.ts"]);
  } else {
    process.stdout.write("skipping deno compile: set DENORT_BIN to a denort binary (deno cannot download it here)\n");
  }
  return out;
}

/**
 * lib/: the sources as JavaScript, one file each, for the npm package (Deno does not strip types
 * under node_modules). Relative ".ts" specifiers become ".js".
 */
export function buildLib(outDir = file("lib")): void {
  fs.rmSync(outDir, { recursive: true, force: true });
  const sources = fs.readdirSync(file("src"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => path.join("src", f));
  const bun = path.join(root, "node_modules", ".bin", "bun");
  const r = spawnSync(bun, ["build", "--no-bundle", "--target", "node", "--root", "src", "--outdir", outDir, ...sources], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bun build --no-bundle failed: ${r.stderr}`);
  for (const f of fs.readdirSync(outDir, { recursive: true, encoding: "utf8" })) {
    if (!f.endsWith(".js")) continue;
    const p = path.join(outDir, f);
    fs.writeFileSync(p, fs.readFileSync(p, "utf8").replace(/(["'])(\.\.?\/[^"'\n]*?)\.ts\1/g, "$1$2.js$1"));
  }
}

if (import.meta.main) {
  const task = process.argv[2] ?? "check";
  if (task === "docs") {
    fs.mkdirSync(file("docs"), { recursive: true });
    fs.writeFileSync(file("docs/settings.md"), settingsDoc());
    fs.writeFileSync(file("README.md"), readmeWithTable(fs.readFileSync(file("README.md"), "utf8")));
    process.stdout.write("wrote docs/settings.md and the README options table\n");
  } else if (task === "check") {
    const p = problems();
    for (const line of p) process.stderr.write(`${line}\n`);
    process.exit(p.length ? 1 : 0);
  } else if (task === "lib") {
    buildLib();
    process.stdout.write("wrote lib/\n");
  } else if (task === "compile") {
    for (const p of compile()) process.stdout.write(`built ${path.relative(root, p)} (${(fs.statSync(p).size / 1e6).toFixed(1)} MB)\n`);
  } else {
    process.stderr.write(`Unknown task "${task}": use docs, check, lib or compile\n`);
    process.exit(1);
  }
}
