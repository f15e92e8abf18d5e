#!/usr/bin/env bun
// The `guvnor` command. Started again by the arbiter with GUVNOR_WORKER set, it is a worker: so a
// compiled guvnor works the same way (the guvnor command's own arbiter starts worker/main.ts).
import process from "node:process";
import { WORKER_ENV } from "../handoff.ts";

if (process.env[WORKER_ENV]) {
  const { runWorkerFromEnv } = await import("../worker/bootstrap.ts");
  await runWorkerFromEnv();
}

const argv = process.argv.slice(2);
// `guvnor ctl …`, --help and --version go through citty. Running an arbiter does not load it: its
// flags are parsed by config/load.ts, and every module fewer is a worker started sooner.
if (argv[0] === "ctl") {
  const { runCommand } = await import("citty");
  const { ctlCommand } = await import("./ctl.ts");
  const { result } = await runCommand(ctlCommand, { rawArgs: argv.slice(1) });
  process.exit(result as number);
}
if (argv.includes("--help") || argv.includes("-h")) {
  const { renderUsage } = await import("citty");
  const { stripVTControlCharacters } = await import("node:util");
  const { command } = await import("./command.ts");
  // Colours only for a terminal, and never with NO_COLOR set (no-color.org): piped into a pager,
  // a file or grep, escape codes are noise.
  const usage = await renderUsage(command);
  const plain = !process.stdout.isTTY || !!process.env.NO_COLOR;
  process.stdout.write((plain ? stripVTControlCharacters(usage) : usage) + "\n\n");
  process.exit(0);
}
if (argv.includes("--version")) {
  const { VERSION } = await import("../version.ts");
  process.stdout.write(`guvnor ${VERSION}\n`);
  process.exit(0);
}
const { runCli } = await import("./run.ts");
process.exit(await runCli(argv));
