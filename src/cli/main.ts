#!/usr/bin/env bun
// The `guvnor` executable.
import process from "node:process";
import { runCommand, showUsage } from "citty";
import { command } from "./command.ts";

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
