import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { bool, int, list, keyValue, oneOf, seconds, umask } from "../../src/config/coerce.ts";
import { formatConfig, parseArgv, resolveConfig } from "../../src/config/load.ts";
import { defaultMaxWorkers, envName, SETTINGS } from "../../src/config/settings.ts";

describe("setting parsers", () => {
  it("read a list the same from a flag, the environment and a config file, commas included", async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "guvnor-lists-"));
    const flags = (await resolveConfig(["--forwarded-allow-ips", "10.0.0.1, 10.0.0.2", "--secure-scheme-headers", "X-A=1,X-B=2", "-e", "L=a,b,Y=2", "app.ts"], {}, d)).config;
    const env = (await resolveConfig(["app.ts"], { GUVNOR_FORWARDED_ALLOW_IPS: "10.0.0.1,10.0.0.2", GUVNOR_SECURE_SCHEME_HEADERS: "X-A=1,X-B=2", GUVNOR_ENV: "L=a,b,Y=2" }, d)).config;
    for (const c of [flags, env]) {
      assert.deepEqual(c.forwardedAllowIps, ["10.0.0.1", "10.0.0.2"]);
      assert.deepEqual(c.secureSchemeHeaders, { "x-a": "1", "x-b": "2" });
      assert.deepEqual(c.env, ["L=a,b", "Y=2"]);
    }
  });

  it("accept good values from every kind of source", () => {
    assert.equal(int(1, "a positive integer")("4", "--workers"), 4);
    assert.equal(int(1, "a positive integer")(4, "workers in x"), 4);
    assert.equal(seconds(0)("2.5", "--timeout"), 2.5);
    assert.equal(bool()("yes", "X"), true);
    assert.equal(bool()("0", "X"), false);
    assert.deepEqual(list()("a, b,c", "GUVNOR_BIND"), ["a", "b", "c"]);
    assert.deepEqual(list()(["a"], "bind in x"), ["a"]);
    assert.equal(umask()("022", "--umask"), 0o22);
    assert.equal(umask()("0o7", "--umask"), 7);
    assert.equal(umask()("0x12", "--umask"), 0x12);
    assert.equal(oneOf("bun", "deno")("deno", "--runtime"), "deno");
  });

  it("name the source and the bad value", () => {
    assert.throws(() => int(1, "a positive integer")("abc", "--workers"), /^ConfigError: --workers must be a positive integer \(got "abc"\)$/);
    assert.throws(() => int(1, "a positive integer")(0, "workers in guvnor.config.ts"), /workers in guvnor\.config\.ts must be a positive integer \(got 0\)/);
    assert.throws(() => int(0, "0 or more")("1.5", "GUVNOR_MAX_REQUESTS"), /GUVNOR_MAX_REQUESTS must be 0 or more/);
    assert.throws(() => seconds(0)("-1", "--timeout"), /--timeout must be 0 to 86400 seconds/);
    assert.throws(() => bool()("maybe", "GUVNOR_REUSE_PORT"), /true or false/);
    assert.throws(() => list(keyValue)(["NOPE"], "--env"), /--env must be KEY=VALUE \(got "NOPE"\)/);
    assert.throws(() => umask()("999", "--umask"), /octal mode/);
    assert.throws(() => oneOf("bun", "deno")("node", "--runtime"), /--runtime must be one of bun, deno \(got "node"\)/);
  });
});

describe("settings table", () => {
  it("has the settings the contract names, each documented, with unique flags", () => {
    const keys = SETTINGS.map((s) => s.key);
    for (const k of ["bind", "workers", "workerClass", "timeout", "gracefulTimeout", "keepAlive", "maxRequests", "maxRequestsJitter",
      "backlog", "reusePort", "config", "pid", "name", "accessLogfile", "accessLogformat", "errorLogfile", "logLevel", "env",
      "chdir", "runtime", "checkConfig", "printConfig", "umask"]) assert.ok(keys.includes(k), k);
    assert.equal(new Set(SETTINGS.map((s) => s.flag)).size, SETTINGS.length);
    assert.equal(new Set(SETTINGS.filter((s) => s.short).map((s) => s.short)).size, SETTINGS.filter((s) => s.short).length);
    for (const s of SETTINGS) assert.ok(s.doc.length > 10, s.key);
    assert.equal(envName(SETTINGS.find((s) => s.key === "gracefulTimeout")!), "GUVNOR_GRACEFUL_TIMEOUT");
  });
});

describe("resolveConfig", () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "guvnor-unit-"));

  it("repeats list flags and takes APP as the positional", () => {
    assert.deepEqual(parseArgv(["-b", "a:1", "--bind", "b:2", "-w", "3", "app.ts"]), { bind: ["a:1", "b:2"], workers: "3", app: "app.ts" });
    assert.throws(() => parseArgv(["--nope"]), /Unknown option --nope/);
    assert.throws(() => parseArgv(["-w"]), /Option --workers needs a value/);
    assert.throws(() => parseArgv(["a.ts", "b.ts"]), /Expected one APP/);
    assert.deepEqual(parseArgv(["-w", "-1", "--timeout", "-2.5", "--", "-x"]), { workers: "-1", timeout: "-2.5", app: "-x" });
    assert.throws(() => parseArgv(["-b", "-x"]), /^ConfigError: Option --bind needs a value; one that starts with a dash is written --bind=-VALUE$/);
  });

  it("applies command line > environment > config file > default", async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, "guvnor.config.json"), JSON.stringify({ workers: 3, timeout: 10, backlog: 64 }));
    const { config, configFile } = await resolveConfig(["-w", "5", "app.ts"], { GUVNOR_WORKERS: "4", GUVNOR_TIMEOUT: "20" }, d);
    assert.equal(configFile, path.join(d, "guvnor.config.json"));
    assert.equal(config.workers, 5);
    assert.equal(config.timeout, 20);
    assert.equal(config.backlog, 64);
    assert.equal(config.gracefulTimeout, 30);
    assert.deepEqual(config.bind, ["127.0.0.1:8000"]);
    assert.match(formatConfig(config), /^workers\s+= 5$/m);
    // The same address twice could only fail to bind, after retries: one line at once instead.
    await assert.rejects(resolveConfig(["-b", "127.0.0.1:8000", "-b", "127.0.0.1:8000", "app.ts"], {}, d), /^ConfigError: --bind gives 127\.0\.0\.1:8000 twice$/);
  });

  it("reads package.json#guvnor and .guvnorrc", async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({ name: "x", guvnor: { workers: 6 } }));
    assert.equal((await resolveConfig([], {}, d)).config.workers, 6);
    const e = dir();
    fs.writeFileSync(path.join(e, ".guvnorrc"), "timeout=11\n");
    assert.equal((await resolveConfig([], {}, e)).config.timeout, 11);
    // A bad value names the file it is in.
    fs.writeFileSync(path.join(e, ".guvnorrc"), "workers=lots\n");
    await assert.rejects(resolveConfig([], {}, e), /^ConfigError: workers in \.guvnorrc must be a positive integer/);
    fs.writeFileSync(path.join(e, ".guvnorrc"), "# a comment\ntimeout=11\nworkers 4\n");
    await assert.rejects(resolveConfig([], {}, e), /^ConfigError: Invalid config file \.guvnorrc: line 3 is not KEY=VALUE: workers 4$/);
    fs.writeFileSync(path.join(d, "package.json"), JSON.stringify({ name: "x", guvnor: { nope: 1 } }));
    await assert.rejects(resolveConfig([], {}, d), /^ConfigError: Unknown setting "nope" in package\.json#guvnor$/);
  });

  it("rejects unknown keys, command-line-only keys and bad values in the file", async () => {
    // A fresh directory per file: Deno caches a module imported from the same path.
    const withFile = (content: object) => {
      const d = dir();
      fs.writeFileSync(path.join(d, "guvnor.config.json"), JSON.stringify(content));
      return d;
    };
    await assert.rejects(resolveConfig([], {}, withFile({ wokers: 3 })), /Unknown setting "wokers" in guvnor\.config\.json/);
    await assert.rejects(resolveConfig([], {}, withFile({ checkConfig: true })), /can only be given on the command line/);
    await assert.rejects(resolveConfig([], {}, withFile({ workers: "many" })), /workers in guvnor\.config\.json must be a positive integer \(got "many"\)/);
  });

  it("defaults from PORT and WEB_CONCURRENCY, and names a bad WEB_CONCURRENCY", async () => {
    const d = dir();
    const { config } = await resolveConfig([], { PORT: "5000", WEB_CONCURRENCY: "3" }, d);
    assert.deepEqual(config.bind, ["0.0.0.0:5000"]);
    assert.equal(config.workers, 3);
    await assert.rejects(resolveConfig([], { WEB_CONCURRENCY: "lots" }, d), /WEB_CONCURRENCY must be a positive integer/);
  });

  it("bounds workers by --max-workers, from every source, and durations by a day", async () => {
    const d = dir();
    const max = defaultMaxWorkers();
    assert.equal(defaultMaxWorkers(1), 16);
    assert.equal(defaultMaxWorkers(16), 128);
    assert.equal((await resolveConfig([], {}, d)).config.maxWorkers, max);
    assert.equal((await resolveConfig(["-w", String(max)], {}, d)).config.workers, max);
    const above = `above the maximum of ${max} \\(8 per CPU, at least 16; raise it with --max-workers\\)$`;
    await assert.rejects(resolveConfig(["-w", String(max + 1)], {}, d), new RegExp(`^ConfigError: --workers is ${max + 1}, ${above}`));
    await assert.rejects(resolveConfig([], { WEB_CONCURRENCY: "100000" }, d), new RegExp(`^ConfigError: WEB_CONCURRENCY is 100000, ${above}`));
    await assert.rejects(resolveConfig([], { GUVNOR_WORKERS: "100000" }, d), /GUVNOR_WORKERS is 100000, above/);
    await assert.rejects(resolveConfig(["-w", "9", "--max-workers", "8"], {}, d), /^ConfigError: --workers is 9, above the maximum of 8 set by --max-workers$/);
    assert.equal((await resolveConfig(["-w", "9"], { GUVNOR_MAX_WORKERS: "9" }, d)).config.workers, 9);
    assert.equal((await resolveConfig(["-t", "86400"], {}, d)).config.timeout, 86400);
    for (const flag of ["--timeout", "--graceful-timeout", "--boot-timeout", "--keep-alive"]) {
      await assert.rejects(resolveConfig([flag, "3000000"], {}, d), new RegExp(`^ConfigError: ${flag} must be 0 to 86400 seconds \\(got "3000000"\\)$`));
    }
  });
});
