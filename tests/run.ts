// `npm test`: the whole suite. Type-checks, then runs the unit tests and the behavioural suite
// under Bun (bun test) and under Deno (deno test), and ends with one "N passed, N failed" line.
import { spawn } from "node:child_process";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);

interface Step {
  name: string;
  cmd: string[];
  /** Reads passed/failed counts from the runner's output. */
  count?: (out: string) => { passed: number; failed: number };
}

const bunCount = (out: string) => ({
  passed: Number(out.match(/^\s*(\d+) pass$/m)?.[1] ?? 0),
  failed: Number(out.match(/^\s*(\d+) fail$/m)?.[1] ?? 0),
});
// "ok | 5 passed (32 steps) | 0 failed": node:test `it`s are Deno steps; count those.
const denoCount = (out: string) => {
  const clean = out.replace(/\x1b\[[0-9;]*m/g, "");
  const m = clean.match(/(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/);
  return { passed: Number(m?.[2] ?? m?.[1] ?? 0), failed: Number(m?.[4] ?? m?.[3] ?? 0) };
};

const only = process.argv[2]; // optional: "bun" or "deno"
const steps: Step[] = [
  { name: "type-check (deno check)", cmd: [bin("deno"), "check", "src/index.ts", "src/cli/main.ts", "build.ts"] },
  { name: "unit + behaviour on Bun (bun test)", cmd: [bin("bun"), "test", "--timeout", "60000", "tests/unit", "tests/bun.test.ts"], count: bunCount },
  { name: "unit + behaviour on Deno (deno test)", cmd: [bin("deno"), "test", "-A", "tests/unit", "tests/deno.test.ts"], count: denoCount },
].filter((s) => !only || s.name.toLowerCase().includes(only));

// Type-check first; then Bun and Deno side by side (their suites wait on processes and sockets
// far more than they compute, so together they take about as long as the slower one). Each
// step's output is printed whole when it ends, so the two never interleave.
async function run(step: Step, live: boolean): Promise<{ code: number; out: string }> {
  return await new Promise((resolve) => {
    const child = spawn(step.cmd[0], step.cmd.slice(1), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const take = (d: Buffer) => {
      out += d;
      if (live) process.stdout.write(d);
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    child.on("close", (c) => resolve({ code: c ?? 1, out }));
  });
}

let passed = 0, failed = 0, broken = 0;
for (const step of steps.filter((s) => !s.count)) {
  process.stdout.write(`\n=== ${step.name}\n`);
  tally(step, await run(step, true));
}
const suites = steps.filter((s) => s.count).map((step) => [step, run(step, false)] as const);
for (const [step, pending] of suites) {
  const result = await pending;
  process.stdout.write(`\n=== ${step.name}\n${result.out}`);
  tally(step, result);
}

function tally(step: Step, { code, out }: { code: number; out: string }): void {
  if (step.count) {
    const c = step.count(out);
    passed += c.passed;
    failed += c.failed;
    if (code !== 0 && c.failed === 0) broken++;
  } else if (code !== 0) {
    broken++;
  }
  if (code !== 0) process.stdout.write(`=== ${step.name}: FAILED (exit ${code})\n`);
}
process.stdout.write(`\n${passed} passed, ${failed + broken} failed\n`);
process.exit(failed + broken > 0 || passed === 0 ? 1 : 0);
