#!/usr/bin/env bun
// The `guvnor` executable. Started again by the arbiter with GUVNOR_WORKER set, it is a worker:
// so the CLI, a compiled guvnor and a user's program that embeds serve() all work the same way.
import process from "node:process";
import { WORKER_ENV } from "../handoff.ts";

if (process.env[WORKER_ENV]) {
  const { runWorkerFromEnv } = await import("../worker/bootstrap.ts");
  await runWorkerFromEnv();
}

const { runCommand, showUsage } = await import("citty");
const { command } = await import("./command.ts");
const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  await showUsage(command);
  process.exit(0);
}
if (argv.includes("--version")) {
  process.stdout.write(`guvnor ${command.meta && "version" in command.meta ? command.meta.version : ""}\n`);
  process.exit(0);
}
const { result } = await runCommand(command, { rawArgs: argv });
process.exit(result as number);
