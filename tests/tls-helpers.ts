// Test certificates made with openssl at test time (node:crypto cannot issue X.509), and an
// https client that reports what a TLS client sees: status, body, certificate, ALPN protocol.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import tls from "node:tls";
import { tmpDir } from "./helpers.ts";

export interface Certs {
  dir: string;
  /** Two self-signed server certificates for 127.0.0.1, each with its key file. */
  a: { cert: string; key: string };
  b: { cert: string; key: string };
  /** A CA and a client certificate it issued. */
  ca: string;
  client: { cert: string; key: string };
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A temp dir with server certificates A and B, a CA and a client certificate (EC keys: fast). */
export function makeCerts(): Certs {
  const dir = tmpDir();
  for (const n of ["a", "b"]) {
    openssl(dir, ["req", "-x509", ...EC, "-keyout", `${n}.key`, "-out", `${n}.pem`, "-days", "1", "-subj", `/CN=guvnor test ${n}`,
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]);
  }
  openssl(dir, ["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=guvnor test ca"]);
  openssl(dir, ["req", ...EC, "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=guvnor test client"]);
  // webpki (Deno's node:tls) wants a v3 certificate with the clientAuth usage.
  fs.writeFileSync(path.join(dir, "client.ext"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
  openssl(dir, ["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", "-days", "1", "-extfile", "client.ext"]);
  const p = (f: string) => path.join(dir, f);
  return { dir, a: { cert: p("a.pem"), key: p("a.key") }, b: { cert: p("b.pem"), key: p("b.key") }, ca: p("ca.pem"), client: { cert: p("client.pem"), key: p("client.key") } };
}

export interface HttpsReply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** SHA-256 fingerprint of the certificate the server presented. */
  fingerprint: string;
}

export interface HttpsOptions {
  /** PEM file the server certificate must chain to (curl's --cacert). */
  cacert: string;
  client?: { cert: string; key: string };
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Connect to this unix socket instead (the certificate is checked for "localhost"). */
  socketPath?: string;
}

/** One GET over a fresh TLS connection. */
export function httpsGet(port: number, pathname: string, o: HttpsOptions): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: o.socketPath ? "localhost" : "127.0.0.1", port, socketPath: o.socketPath, path: pathname, agent: false, ca: fs.readFileSync(o.cacert), headers: o.headers,
      ...(o.client ? { cert: fs.readFileSync(o.client.cert), key: fs.readFileSync(o.client.key) } : {}),
      timeout: o.timeoutMs ?? 5000,
    }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate?.()?.fingerprint256 ?? "";
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers, fingerprint }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("https request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** The protocol the server picks by ALPN when offered h2 and http/1.1 ("h2", "http/1.1", or "none"). */
export function alpn(port: number, cacert: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(cacert), ALPNProtocols: ["h2", "http/1.1"] }, () => {
      resolve(s.alpnProtocol || "none");
      s.destroy();
    });
    s.setTimeout(5000, () => s.destroy(new Error("TLS handshake timed out")));
    s.on("error", reject);
  });
}

/** SHA-256 fingerprint of a PEM certificate file, as getPeerCertificate() spells it. */
export function fingerprintOf(certFile: string): string {
  return new X509Certificate(fs.readFileSync(certFile)).fingerprint256;
}

/** One plain-HTTP GET over a fresh connection from `localAddress` (127.0.0.2 is another loopback peer). */
export function getFrom(localAddress: string, port: number, pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: pathname, localAddress, headers, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** Sends two requests, one after the other, on one TLS connection; resolves with the status lines answered. */
export function twoOnOneConnection(port: number, cacert: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let data = "", sent = 1;
    const lines = () => data.match(/HTTP\/1\.1 \d+/g) ?? [];
    const s = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(cacert), ALPNProtocols: ["http/1.1"] }, () => s.write(req));
    s.setEncoding("utf8");
    s.setTimeout(5000, () => s.destroy());
    s.on("data", (d) => {
      data += d;
      if (lines().length === 1 && sent === 1) {
        sent = 2;
        s.write(req);
      } else if (lines().length === 2) s.end();
    });
    s.on("close", () => resolve(lines()));
    s.on("error", reject);
  });
}
