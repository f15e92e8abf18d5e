// Resolves the effective config: command line > environment > config file > default.
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { ConfigError } from "../errors.ts";
import type { Config } from "../types.ts";
import { type Hooks, isHookName, pickHooks } from "./hooks.ts";
import { resolveIds } from "./users.ts";
import { loadTls } from "./tls.ts";
import { importErrorText } from "../app/load.ts";
import { INTERNAL_ENV } from "../handoff.ts";
import { defaultOf, envName, SETTINGS, SETTINGS_BY_KEY } from "./settings.ts";

type Raw = Partial<Record<string, unknown>>;

export interface ResolvedConfig {
  config: Config;
  /** Absolute path of the config file that was loaded, if any. */
  configFile?: string;
  /** Server hooks defined in the config file. */
  hooks: Hooks;
  /** GUVNOR_* environment variables that name no setting (a typo is otherwise silent). */
  unknownEnv: string[];
}


/** Flag values from argv, still raw strings; APP is the one positional. */
export function parseArgv(argv: string[]): Raw {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const s of SETTINGS) {
    options[s.flag] = { type: s.parse.kind === "boolean" ? "boolean" : "string", multiple: s.parse.kind === "list" };
    if (s.short) options[s.flag].short = s.short;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message;
    const unknown = msg.match(/Unknown option '([^']+)'/);
    if (unknown) throw new ConfigError(`Unknown option ${unknown[1]} (see guvnor --help)`);
    const missing = msg.match(/Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/);
    if (missing) throw new ConfigError(`Option ${missing[1]} needs a value`);
    const ambiguous = msg.match(/argument is ambiguous[\s\S]*'(--[\w-]+)=-XYZ'/);
    if (ambiguous) throw new ConfigError(`Option ${ambiguous[1]} needs a value; one that starts with a dash is written ${ambiguous[1]}=-VALUE`);
    throw new ConfigError(msg.split("\n")[0]);
  }
  const out: Raw = {};
  for (const s of SETTINGS) if (parsed.values[s.flag] !== undefined) out[s.key] = parsed.values[s.flag];
  if (parsed.positionals.length > 1) throw new ConfigError(`Expected one APP, got ${parsed.positionals.length}: ${parsed.positionals.join(" ")}`);
  if (parsed.positionals.length === 1) out.app = parsed.positionals[0];
  return out;
}

/**
 * `-w -1` as `--workers=-1`: node:util's parseArgs takes a value starting with a dash for an option
 * ("argument is ambiguous"), so a negative number would never reach the setting's own check.
 */
function joinNegativeValues(argv: string[]): string[] {
  const takesValue = new Map<string, string>();
  for (const s of SETTINGS) {
    if (s.parse.kind === "boolean") continue;
    takesValue.set(`--${s.flag}`, s.flag);
    if (s.short) takesValue.set(`-${s.short}`, s.flag);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") return [...out, ...argv.slice(i)];
    const flag = takesValue.get(argv[i]);
    if (flag && /^-[\d.]/.test(argv[i + 1] ?? "")) out.push(`--${flag}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

function fromEnv(env: Record<string, string | undefined>): Raw {
  const out: Raw = {};
  for (const s of SETTINGS) {
    const v = env[envName(s)];
    if (v !== undefined) out[s.key] = v;
  }
  return out;
}

/**
 * The keys that came from .guvnorrc or package.json#guvnor, and which (the first layer that has a
 * key wins, as in c12's merge); the rest come from the config file.
 */
function keySources(layers: { configFile?: string; config?: Raw | null }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of layers) {
    const name = l.configFile === ".guvnorrc" ? ".guvnorrc" : l.configFile === "package.json" ? "package.json#guvnor" : undefined;
    if (!name || !l.config) continue;
    for (const key of Object.keys(l.config)) out[key] ??= name;
  }
  return out;
}

async function fromFile(explicit: string, cwd: string): Promise<{ raw: Raw; file?: string; sources?: Record<string, string> }> {
  if (explicit) {
    const abs = path.resolve(cwd, explicit);
    if (!fs.existsSync(abs)) throw new ConfigError(`Config file not found: ${explicit}`);
  }
  // c12 (and the jiti loader it starts) costs a process ~50 ms and several MiB: only when there
  // is something for it to read.
  if (!explicit && !mayHaveConfigFile(cwd)) return { raw: {} };
  const { loadConfig } = await import("c12");
  let result;
  try {
    result = await loadConfig({
      name: "guvnor", cwd, configFile: explicit ? path.resolve(cwd, explicit) : undefined,
      // A file named with -c is the whole config file layer, as with gunicorn: no .guvnorrc or
      // package.json#guvnor from the directory merged under it.
      rcFile: explicit ? false : ".guvnorrc", packageJson: !explicit, dotenv: false, globalRc: false, envName: false,
    });
  } catch (err) {
    const name = explicit || fs.readdirSync(cwd).find((f) => f.startsWith("guvnor.config.")) || "guvnor.config.*";
    // The first line says what; a later one (jiti's) or Bun's `position` says where.
    const lines = importErrorText(err).split("\n").map((l) => l.trim());
    const where = lines.slice(1).find((l) => /:\d+:\d+/.test(l));
    throw new ConfigError(`Invalid config file ${name}: ${lines[0]}${where ? ` (${where.replace(/^at /, "")})` : ""}`, { cause: err });
  }
  if (!explicit) checkRcLines(path.join(cwd, ".guvnorrc"));
  let raw = (result.config ?? {}) as Raw;
  const file = result.configFile && fs.existsSync(result.configFile) ? result.configFile : undefined;
  if (file?.endsWith(".json")) {
    // Runtimes cache JSON modules by path, so a reload (HUP) would see the old file: read it fresh,
    // over the other layers (.guvnorrc, package.json#guvnor).
    const others = (result.layers ?? []).filter((l) => l.configFile !== file && !l.configFile?.endsWith(path.basename(file)));
    raw = Object.assign({}, ...others.reverse().map((l) => l.config ?? {}), readJson(file));
  }
  return { raw, file, sources: keySources((result.layers ?? []) as { configFile?: string; config?: Raw }[]) };
}

/**
 * True when c12 would find something: guvnor.config.* or .guvnorrc here, a .config directory
 * here, or a package.json with a "guvnor" key here or above (c12 reads the nearest package.json).
 */
function mayHaveConfigFile(cwd: string): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(cwd);
  } catch {
    return true; // let c12 say what is wrong
  }
  if (names.some((n) => n.startsWith("guvnor.config.") || n === ".guvnorrc" || n === ".config")) return true;
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        return Object.hasOwn(JSON.parse(fs.readFileSync(pkg, "utf8")) ?? {}, "guvnor");
      } catch {
        return true;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

/** c12 skips a .guvnorrc line that is not `key=value`: a typo would vanish without a word. */
function checkRcLines(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return; // none here
  }
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t && !t.startsWith("#") && !t.includes("=")) throw new ConfigError(`Invalid config file .guvnorrc: line ${i + 1} is not KEY=VALUE: ${t.slice(0, 80)}`);
  });
}

function readJson(file: string): Raw {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError(`Invalid config file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Loads and validates the effective config. Throws ConfigError naming the bad value. */
export async function resolveConfig(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  cwd: string = process.cwd(),
  /** Settings given in code (the library's serve()): they take the config file's place. */
  given?: { raw: Raw; name: string },
): Promise<ResolvedConfig> {
  // 1. Command line and environment first: they may name the config file.
  const cli = parseArgv(argv);
  const envRaw = fromEnv(env);
  const explicit = String(cli.config ?? envRaw.config ?? "");

  // 2. The config file (c12): guvnor.config.*, .guvnorrc, package.json#guvnor.
  const { raw: fileRaw, file, sources } = given ? { raw: given.raw, file: undefined, sources: undefined } : await fromFile(explicit, cwd);
  const fileName = given?.name ?? (file ? path.relative(cwd, file) || file : "the config file");
  /** The file a key came from: .guvnorrc, package.json#guvnor, else the config file. */
  const fileOf = (key: string) => sources?.[key] ?? fileName;
  const hooks = pickHooks(fileRaw, fileName);
  for (const key of Object.keys(fileRaw)) {
    if (isHookName(key)) continue;
    const s = SETTINGS_BY_KEY.get(key);
    if (!s) throw new ConfigError(`Unknown setting "${key}" in ${fileOf(key)}`);
    if (s.cliOnly) throw new ConfigError(`Setting "${key}" in ${fileOf(key)} can only be given on the command line`);
  }

  // 3. Each setting from the strongest source that has it, parsed with that source's name.
  const config: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const s of SETTINGS) {
    if (cli[s.key] !== undefined) config[s.key] = s.parse(cli[s.key], source[s.key] = s.key === "app" ? "APP" : `--${s.flag}`);
    else if (envRaw[s.key] !== undefined) config[s.key] = s.parse(envRaw[s.key], source[s.key] = envName(s));
    else if (fileRaw[s.key] !== undefined) config[s.key] = s.parse(fileRaw[s.key], source[s.key] = `${s.key} in ${fileOf(s.key)}`);
    else config[s.key] = defaultOf(s, env);
  }
  // 4. Bounds between settings: workers ≤ maxWorkers.
  for (const s of SETTINGS) {
    const max = s.atMost && SETTINGS_BY_KEY.get(s.atMost);
    if (!max || (config[s.key] as number) <= (config[max.key] as number)) continue;
    const from = source[s.key] ?? (s.key === "workers" && env.WEB_CONCURRENCY ? "WEB_CONCURRENCY" : `--${s.flag}`);
    const limit = source[max.key] ? `set by ${source[max.key]}` : `(${max.defaultDoc}; raise it with --${max.flag})`;
    throw new ConfigError(`${from} is ${config[s.key]}, above the maximum of ${config[max.key]} ${limit}`);
  }
  // The metrics listener on one of the app's addresses could only fail to bind, after retries.
  if (config.metricsBind && (config.bind as string[]).includes(config.metricsBind as string)) {
    throw new ConfigError(`${source.metricsBind ?? "--metrics-bind"} ${config.metricsBind} is also a --bind address: give metrics an address of their own`);
  }
  if (file) config.config = file;
  resolveIds(config.user as string, config.group as string); // an unknown user is an error now, not in every worker
  loadTls(config as unknown as Config, cwd); // a missing or mismatched certificate and key too
  const known = new Set(SETTINGS.map(envName));
  const unknownEnv = Object.keys(env).filter((k) => k.startsWith("GUVNOR_") && !known.has(k) && !INTERNAL_ENV.has(k));
  return { config: config as unknown as Config, configFile: file, hooks, unknownEnv };
}

/** A worker's hooks: the config file loaded again in the worker process (functions do not serialize). */
export async function loadHooks(configFile: string, cwd: string): Promise<Hooks> {
  return pickHooks((await fromFile(configFile, cwd)).raw, configFile);
}

/** gunicorn's --print-config: `name = value`, one per line. */
export function formatConfig(config: Config): string {
  const width = Math.max(...SETTINGS.map((s) => s.key.length));
  // A umask reads as octal, as it is written on the command line.
  const show = (key: string, v: unknown) => (key === "umask" ? `"0${(v as number).toString(8).padStart(3, "0")}"` : JSON.stringify(v));
  return SETTINGS.map((s) => `${s.key.padEnd(width)} = ${show(s.key, (config as unknown as Raw)[s.key])}`).join("\n");
}
