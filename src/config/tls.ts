// TLS material: the arbiter reads --certfile/--keyfile/--ca-certs when the config is loaded (at
// start and on every HUP), checks that they parse and that the key is the certificate's, and
// hands the PEM text to each worker in a memfd (handoff.ts). The worker never opens the files: a key
// readable by root only works with --user, and the app's user needs no read access to it.
import type { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { ConfigError } from "../errors.ts";
import type { Config } from "../types.ts";
import type { TlsMaterial } from "../runtime/tls.ts";


/** A key or chain file larger than this is not a PEM file anyone meant. */
const MAX_BYTES = 1 << 20;
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The PEM blocks of `text` with their labels, in order. */
function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(BLOCK)].map((m) => ({ label: m[1], pem: m[0] }));
}

function readPem(flag: string, file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new ConfigError(`${flag}: can't read ${file}: ${describe(err)}`, { cause: err });
  }
  if (!st.isFile()) throw new ConfigError(`${flag}: ${file} is not a file`);
  if (st.size > MAX_BYTES) throw new ConfigError(`${flag}: ${file} is ${st.size} bytes, more than a PEM file holds`);
  try {
    return fs.readFileSync(file, "latin1");
  } catch (err) {
    throw new ConfigError(`${flag}: can't read ${file}: ${describe(err)}`, { cause: err });
  }
}

const describe = (err: unknown): string => {
  const code = (err as { code?: string }).code;
  return code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code ?? (err as Error).message;
};

/**
 * Reads and checks the TLS files of `cfg` (paths relative to `cwd` become absolute in cfg).
 * Returns null without --certfile; throws a ConfigError naming the file and what is wrong.
 * Only blocks that parse leave this function: a path swapped for another file yields an error,
 * never that file's text.
 */
export function loadTlsMaterial(cfg: Config, cwd: string): TlsMaterial | null {
  // 1. Which settings go together.
  if (!cfg.certfile) {
    if (cfg.keyfile) throw new ConfigError("--keyfile needs --certfile");
    if (cfg.caCerts || cfg.certReqs !== "none") throw new ConfigError(`${cfg.caCerts ? "--ca-certs" : "--cert-reqs"} needs --certfile (TLS)`);
    // Accepted and then ignored, they would let an operator believe plain HTTP was TLS.
    if (cfg.ciphers) throw new ConfigError("--ciphers needs --certfile (TLS)");
    if (cfg.tlsMinVersion !== "1.2") throw new ConfigError(`--tls-min-version ${cfg.tlsMinVersion} needs --certfile (TLS)`);
    return null;
  }
  // node:crypto and node:tls only with TLS configured: without, a process does not load them.
  const { createPrivateKey, X509Certificate } = process.getBuiltinModule("node:crypto");
  const { createSecureContext } = process.getBuiltinModule("node:tls");
  if (cfg.certReqs !== "none" && !cfg.caCerts) throw new ConfigError(`--cert-reqs ${cfg.certReqs} needs --ca-certs: the CA certificates client certificates must chain to`);
  if (cfg.ciphers && cfg.runtime === "deno") throw new ConfigError("--ciphers: Deno's TLS (rustls) takes no cipher list; leave it unset on Deno workers");
  if (cfg.ciphers) {
    try {
      createSecureContext({ ciphers: cfg.ciphers });
    } catch (err) {
      throw new ConfigError(`--ciphers ${cfg.ciphers}: names no cipher the TLS library knows (${(err as Error).message})`, { cause: err });
    }
  }
  cfg.certfile = path.resolve(cwd, cfg.certfile);
  if (cfg.keyfile) cfg.keyfile = path.resolve(cwd, cfg.keyfile);
  if (cfg.caCerts) cfg.caCerts = path.resolve(cwd, cfg.caCerts);

  // 2. The certificate chain: every CERTIFICATE block, the first being the server's.
  const certText = readPem("--certfile", cfg.certfile);
  const chain = pemBlocks(certText).filter((b) => b.label === "CERTIFICATE");
  if (chain.length === 0) throw new ConfigError(`--certfile: ${cfg.certfile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain[0].pem);
    for (const b of chain.slice(1)) new X509Certificate(b.pem);
  } catch (err) {
    throw new ConfigError(`--certfile: ${cfg.certfile} has a certificate that does not parse: ${(err as Error).message}`, { cause: err });
  }

  // 3. The key: its own file, or the one inside the certificate file (gunicorn allows both).
  const keyFile = cfg.keyfile || cfg.certfile;
  const keyText = cfg.keyfile ? readPem("--keyfile", cfg.keyfile) : certText;
  const keyBlock = pemBlocks(keyText).find((b) => b.label.endsWith("PRIVATE KEY"));
  if (!keyBlock) {
    throw new ConfigError(cfg.keyfile
      ? `--keyfile: ${keyFile} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`
      : `--certfile: ${keyFile} holds no private key: give it with --keyfile`);
  }
  if (keyBlock.label.startsWith("ENCRYPTED")) throw new ConfigError(`--keyfile: ${keyFile} is encrypted; guvnor needs an unencrypted key (openssl pkey -in KEY -out KEY.plain)`);
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(keyBlock.pem));
  } catch (err) {
    throw new ConfigError(`--keyfile: ${keyFile} has a private key that does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (!matches) throw new ConfigError(`--certfile and --keyfile do not match: ${keyFile} is not the key of the certificate in ${cfg.certfile} (${leaf.subject.replaceAll("\n", ", ")})`);

  // 4. The CA certificates for client certificates.
  let ca: string | undefined;
  if (cfg.caCerts) {
    const cas = pemBlocks(readPem("--ca-certs", cfg.caCerts)).filter((b) => b.label === "CERTIFICATE");
    if (cas.length === 0) throw new ConfigError(`--ca-certs: ${cfg.caCerts} holds no PEM certificate`);
    try {
      for (const b of cas) new X509Certificate(b.pem);
    } catch (err) {
      throw new ConfigError(`--ca-certs: ${cfg.caCerts} has a certificate that does not parse: ${(err as Error).message}`, { cause: err });
    }
    ca = cas.map((b) => b.pem).join("\n") + "\n";
  }
  return { cert: chain.map((b) => b.pem).join("\n") + "\n", key: keyBlock.pem + "\n", ...(ca ? { ca } : {}) };
}

/**
 * The material of the config loaded last, by its paths: the arbiter hands it to every worker it
 * spawns under that config. Loading the config again (HUP) reads the files again and replaces it.
 */
const loaded = new Map<string, TlsMaterial>();
const pathsOf = (cfg: Config): string => JSON.stringify([cfg.certfile, cfg.keyfile, cfg.caCerts]);

/** loadTlsMaterial, remembered for tlsMaterialFor(). */
export function loadTls(cfg: Config, cwd: string): void {
  const material = loadTlsMaterial(cfg, cwd);
  if (material) loaded.set(pathsOf(cfg), material);
}

/** What the arbiter hands a worker spawned under `cfg`: the PEM text read when cfg was loaded. */
export function tlsMaterialFor(cfg: Config): TlsMaterial | undefined {
  return cfg.certfile ? loaded.get(pathsOf(cfg)) : undefined;
}
