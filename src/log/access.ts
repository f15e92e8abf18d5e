// Access log lines in gunicorn's format language: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s …
import process from "node:process";

export interface AccessEntry {
  remoteAddr: string;
  method: string;
  /** Path and query, as sent. */
  target: string;
  /** e.g. "1.1" */
  httpVersion: string;
  /** "https" over TLS or from a trusted proxy that says so; "http" when unset. */
  scheme?: string;
  status: number;
  /** Body bytes sent, or null when unknown. */
  bytes: number | null;
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  start: Date;
  durationMs: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `[27/Nov/2026:10:06:17 +0000]` (Apache's common log time). */
function clfTime(d: Date): string {
  const p = (n: number) => String(Math.abs(n)).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  return `[${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${off >= 0 ? "+" : "-"}${p(Math.trunc(off / 60))}${p(off % 60)}]`;
}

function basicAuthUser(header: string | undefined): string {
  if (!header?.toLowerCase().startsWith("basic ")) return "-";
  try {
    return atob(header.slice(6).trim()).split(":")[0] || "-";
  } catch {
    return "-";
  }
}

function atom(name: string, e: AccessEntry): string {
  const q = e.target.indexOf("?");
  switch (name) {
    case "h": return e.remoteAddr || "-";
    case "l": return "-";
    case "u": return basicAuthUser(e.requestHeader("authorization"));
    case "t": return clfTime(e.start);
    case "r": return `${e.method} ${e.target} HTTP/${e.httpVersion}`;
    case "m": return e.method;
    case "U": return q === -1 ? e.target : e.target.slice(0, q);
    case "q": return q === -1 ? "" : e.target.slice(q + 1);
    case "H": return `HTTP/${e.httpVersion}`;
    case "s": return String(e.status);
    case "B": return String(e.bytes ?? 0);
    case "b": return e.bytes === null ? "-" : String(e.bytes);
    case "f": return e.requestHeader("referer") ?? "-";
    case "a": return e.requestHeader("user-agent") ?? "-";
    case "T": return String(Math.floor(e.durationMs / 1000));
    case "D": return String(Math.round(e.durationMs * 1000));
    case "M": return String(Math.round(e.durationMs));
    case "L": return (e.durationMs / 1000).toFixed(6);
    case "p": return `<${process.pid}>`;
  }
  const m = name.match(/^\{([^}]*)\}([ioe])$/);
  if (!m) return "-";
  // gunicorn's {NAME}e reads the WSGI environ, which has the scheme as wsgi.url_scheme.
  if (m[1] === "wsgi.url_scheme" && m[2] === "e") return e.scheme ?? "http";
  const key = m[1].toLowerCase();
  const v = m[2] === "i" ? e.requestHeader(key) : m[2] === "o" ? e.responseHeader(key) : process.env[m[1]];
  return v ?? "-";
}

/** Formats one access log line (without the newline). */
export function formatAccess(format: string, e: AccessEntry): string {
  return format.replace(/%\((\{[^}]*\}[ioe]|\w)\)s/g, (_, name: string) => atom(name, e));
}

/** One access log entry as a JSON object (--log-format json). */
export function accessJson(e: AccessEntry): string {
  return JSON.stringify({
    time: e.start.toISOString(),
    pid: process.pid,
    remote_addr: e.remoteAddr || null,
    method: e.method,
    path: e.target,
    protocol: `HTTP/${e.httpVersion}`,
    status: e.status,
    bytes: e.bytes,
    duration_s: Math.round(e.durationMs * 1000) / 1e6,
    user_agent: e.requestHeader("user-agent") ?? null,
    referer: e.requestHeader("referer") ?? null,
  });
}

/** The access log line for the configured format, without the newline. */
export function accessLine(cfg: { logFormat: "text" | "json"; accessLogformat: string }, e: AccessEntry): string {
  return cfg.logFormat === "json" ? accessJson(e) : formatAccess(cfg.accessLogformat, e);
}
