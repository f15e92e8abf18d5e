// The citty command: its args (for --help) come from the settings table. Values are parsed by
// config/load.ts with node:util parseArgs, because citty 0.2 keeps only the last of a repeated
// flag (-b a -b b) and accepts unknown options silently.
import { type ArgsDef, defineCommand } from "citty";
import { VERSION } from "../version.ts";
import { SETTINGS } from "../config/settings.ts";
import { runCli } from "./run.ts";

function argsFromSettings(): ArgsDef {
  const args: ArgsDef = {
    app: { type: "positional", required: false, description: "path/to/module.ts[:name] — the app to serve" },
  };
  for (const s of SETTINGS) {
    if (s.key === "app") continue;
    args[s.flag] = {
      type: s.parse.kind === "boolean" ? "boolean" : "string",
      alias: s.short,
      valueHint: s.meta,
      description: s.doc.replaceAll("`", ""),
    };
  }
  return args;
}

export const command = defineCommand({
  meta: { name: "guvnor", version: VERSION, description: "Pre-fork process manager for Bun and Deno apps (gunicorn's model). `guvnor ctl --help`: see and steer a running one." },
  args: argsFromSettings(),
  async run({ rawArgs }) {
    return await runCli(rawArgs);
  },
});
