#!/usr/bin/env bun
// The `guvnor` executable. Started again by the arbiter with GUVNOR_WORKER set, it is a worker:
// so the CLI, a compiled guvnor and a user's program that embeds serve() all work the same way.
import process from "node:process";
import { stripVTControlCharacters } from "node:util";
import { WORKER_ENV } from "../handoff.ts";

if (process.env[WORKER_ENV]) {
  const { runWorkerFromEnv } = await import("../worker/bootstrap.ts");
  await runWorkerFromEnv();
}

const { renderUsage, runCommand } = await import("citty");
// `guvnor ctl …` talks to a running arbiter; everything else runs one.
if (process.argv[2] === "ctl") {
  const { ctlCommand } = await import("./ctl.ts");
  const { result } = await runCommand(ctlCommand, { rawArgs: process.argv.slice(3) });
  process.exit(result as number);
}
const { command } = await import("./command.ts");
const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  // Colours only for a terminal, and never with NO_COLOR set (no-color.org): piped into a pager,
  // a file or grep, escape codes are noise.
  const usage = await renderUsage(command);
  const plain = !process.stdout.isTTY || !!process.env.NO_COLOR;
  process.stdout.write((plain ? stripVTControlCharacters(usage) : usage) + "\n\n");
  process.exit(0);
}
if (argv.includes("--version")) {
  process.stdout.write(`guvnor ${command.meta && "version" in command.meta ? command.meta.version : ""}\n`);
  process.exit(0);
}
const { result } = await runCommand(command, { rawArgs: argv });
process.exit(result as number);
