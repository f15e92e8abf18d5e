#!/usr/bin/env bun
// The `guvnor` command. From a checkout it runs the TypeScript sources; installed from npm it runs
// lib/, their JavaScript build, because Deno does not strip types under node_modules.
import { existsSync } from "node:fs";

const src = new URL("../src/cli/main.ts", import.meta.url);
const installed = import.meta.url.includes("/node_modules/");
await import(!installed && existsSync(src) ? src.href : new URL("../lib/cli/main.js", import.meta.url).href);
