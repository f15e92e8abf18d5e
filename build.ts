// Build tasks. `bun build.ts docs` regenerates docs/settings.md and the README's options table;
// `bun build.ts check` fails when they are stale or when package.json and deno.json disagree.
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { optionsTable, settingsDoc } from "./src/config/docs.ts";

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
  const pkgMain = typeof pkg.exports === "string" ? pkg.exports : pkg.exports["."];
  const denoMain = typeof deno.exports === "string" ? deno.exports : deno.exports?.["."];
  if (pkgMain !== denoMain) out.push(`package.json exports "${pkgMain}" but deno.json exports "${denoMain}"`);
  if (deno.version && deno.version !== pkg.version) out.push(`package.json is ${pkg.version} but deno.json is ${deno.version}`);
  return out;
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
  } else {
    process.stderr.write(`Unknown task "${task}": use docs or check\n`);
    process.exit(1);
  }
}
