// docs/settings.md and the README's options table, generated from the settings table.
import { HOOKS } from "./hooks.ts";
import { envName, type Setting, SETTINGS } from "./settings.ts";

function flags(s: Setting): string {
  const meta = s.meta ? ` ${s.meta}` : "";
  return s.key === "app" ? "`APP` (positional)" : `${s.short ? `\`-${s.short}\`, ` : ""}\`--${s.flag}${meta}\``;
}

function defaultText(s: Setting): string {
  if (s.defaultDoc) return s.defaultDoc;
  return typeof s.default === "string" ? `\`${s.default || '""'}\`` : `\`${JSON.stringify(s.default)}\``;
}

/** The options table (markdown), as in the README. */
export function optionsTable(): string {
  const rows = SETTINGS.map((s) => `| ${flags(s)} | ${defaultText(s).replaceAll("|", "\\|")} | ${s.doc.replaceAll("|", "\\|")} |`);
  return ["| option | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

/** The whole docs/settings.md. */
export function settingsDoc(): string {
  const out = [
    "# Settings",
    "",
    "Generated from `src/config/settings.ts` by `bun build.ts docs`; do not edit by hand.",
    "",
    "Every setting can be given on the command line, as an environment variable, or in a config file",
    "(`guvnor.config.ts`/`.js`/`.json`, `.guvnorrc`, or the `guvnor` key of `package.json`).",
    "Precedence: command line > environment > config file > default. In the environment, lists",
    "are comma-separated (`GUVNOR_BIND=127.0.0.1:8000,unix:/run/app.sock`) and booleans are",
    "`1`/`0`, `true`/`false`, `yes`/`no`.",
    "",
    "Durations are seconds (fractions allowed) and at most 86400, a day: a timer holds at most",
    "2^31-1 ms (about 24.8 days), and a longer delay would overflow and fire at once.",
    "",
  ];
  for (const section of ["Server", "Workers", "Logging", "Process", "Config", "TLS", "Proxy"] as const) {
    out.push(`## ${section}`, "");
    for (const s of SETTINGS.filter((x) => x.section === section)) {
      out.push(`### \`${s.key}\``, "");
      out.push(`- command line: ${flags(s)}`);
      out.push(`- environment: \`${envName(s)}\``);
      out.push(s.cliOnly ? "- config file: not allowed (command line or environment only)" : `- config file: \`${s.key}\``);
      out.push(`- default: ${defaultText(s)}`, "", s.doc, "");
    }
  }
  out.push(
    "## Server hooks",
    "",
    "Functions in the config file (not on the command line or in the environment). Each gets the",
    "arbiter or the worker object first; an exception in a hook is logged and does not stop guvnor.",
    "Worker hooks run in the worker process: the worker loads the config file again to get them.",
    "",
    "| hook | runs in | arguments | when |",
    "| --- | --- | --- | --- |",
    ...HOOKS.map((h) => `| \`${h.name}\` | ${h.process} | \`${h.args}\` | ${h.doc} |`),
    "",
    "```ts",
    "// guvnor.config.ts",
    "export default {",
    "  workers: 4,",
    "  whenReady: (arbiter) => console.log(`serving with ${arbiter.numWorkers} workers`),",
    "  childExit: (arbiter, worker, status) => console.log(`worker ${worker.pid} exited`, status),",
    "  postWorkerInit: (worker) => console.log(`worker ${worker.age} loaded the app`),",
    "};",
    "```",
    "",
    "## Access log atoms",
    "",
    "`--access-logformat` uses gunicorn's atoms: `h` remote address, `l` `-`, `u` user (basic auth),",
    "`t` time, `r` request line, `m` method, `U` path, `q` query, `H` protocol, `s` status,",
    "`B` body bytes, `b` body bytes or `-`, `f` referer, `a` user agent, `T` seconds, `M` milliseconds,",
    "`D` microseconds, `L` decimal seconds, `p` worker pid, `{name}i` request header,",
    "`{name}o` response header, `{NAME}e` environment variable, and gunicorn's `{wsgi.url_scheme}e`, the",
    "scheme (`http` or `https`). Write each as `%(x)s`, e.g. `%({wsgi.url_scheme}e)s`.",
    "",
  );
  return out.join("\n");
}
