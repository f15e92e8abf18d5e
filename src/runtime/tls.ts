// What the runtimes' TLS servers are given: the certificate material the arbiter read and the
// choices from the settings, and the same as node:tls options (the compat path, Bun's native TLS).
import type tls from "node:tls";
import type { WorkerConfig } from "../types.ts";

/** What a worker needs to serve TLS: PEM text only, nothing the worker could re-open. */
export interface TlsMaterial {
  /** The certificate and the chain after it. */
  cert: string;
  key: string;
  /** CA certificates that client certificates must chain to. */
  ca?: string;
}

/** How a worker serves TLS: the material and the settings that shape the handshake. */
export interface TlsServing extends TlsMaterial {
  /** Ask the client for a certificate (--cert-reqs optional or required). */
  requestCert: boolean;
  /** Fail the handshake without a valid client certificate (--cert-reqs required). */
  rejectUnauthorized: boolean;
  /** OpenSSL cipher list for TLS 1.2; empty: the runtime's. */
  ciphers: string;
  minVersion: "TLSv1.2" | "TLSv1.3";
}

/** The options node:tls and Bun.serve's tls spell alike. */
export function commonTlsOptions(t: TlsServing): tls.TlsOptions {
  return {
    cert: t.cert,
    key: t.key,
    ...(t.ca ? { ca: t.ca } : {}),
    requestCert: t.requestCert,
    rejectUnauthorized: t.rejectUnauthorized,
    ...(t.ciphers ? { ciphers: t.ciphers } : {}),
  };
}

/** node:tls server options (the compat path on both runtimes). */
export function nodeTlsOptions(t: TlsServing): tls.TlsOptions {
  return { ...commonTlsOptions(t), minVersion: t.minVersion, ALPNProtocols: ["http/1.1"] };
}

/** The worker's view: material from the arbiter, shaped by the settings. */
export function tlsServing(cfg: WorkerConfig, material: TlsMaterial | null | undefined): TlsServing | undefined {
  if (!material) return undefined;
  return {
    ...material,
    requestCert: cfg.certReqs !== "none",
    rejectUnauthorized: cfg.certReqs === "required",
    ciphers: cfg.ciphers,
    minVersion: cfg.tlsMinVersion === "1.3" ? "TLSv1.3" : "TLSv1.2",
  };
}
