// Parsers for the TLS and proxy settings (see coerce.ts for the conventions).
import { ConfigError } from "../errors.ts";
import type { Parser } from "./coerce.ts";
import { parseNetwork } from "./networks.ts";
import { BEFORE_KEY } from "./coerce.ts";

const show = (v: unknown) => (typeof v === "string" ? `"${v}"` : JSON.stringify(v) ?? String(v));
const parser = <T>(kind: Parser["kind"], fn: (raw: unknown, source: string) => T): Parser<T> => Object.assign(fn, { kind });

/** none | optional | required, or gunicorn's ssl.CERT_* numbers 0 | 1 | 2. */
export const certReqs = (): Parser<"none" | "optional" | "required"> =>
  parser("value", (raw, source) => {
    const names = ["none", "optional", "required"] as const;
    const s = String(raw).trim().toLowerCase();
    const v = /^[012]$/.test(s) ? names[Number(s)] : names.find((n) => n === s);
    if (!v) throw new ConfigError(`${source} must be one of none, optional, required (got ${show(raw)})`);
    return v;
  });

/** A list item of --forwarded-allow-ips: `*`, an address, or a network; `""` alone trusts no TCP peer (unix-socket peers are always trusted). */
export const ipOrNetwork = (s: string, source: string): void => {
  if (s.trim() !== "*" && s.trim() !== "" && !parseNetwork(s)) throw new ConfigError(`${source} must be IP addresses, networks such as 10.0.0.0/8, or * (got ${show(s)})`);
};

/**
 * Header → value pairs: `Header=value` items (flags repeat, the environment separates them
 * with commas), or an object in a config file. Names are kept lower-case.
 */
export const headerValues = (): Parser<Record<string, string>> =>
  parser("list", (raw, source) => {
    const out: Record<string, string> = {};
    const bad = (v: unknown) => new ConfigError(`${source} must be HEADER=VALUE items (got ${show(v)})`);
    if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string" || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) throw bad({ [k]: v });
        out[k.toLowerCase()] = v;
      }
      return out;
    }
    const texts = Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : null;
    if (!texts) throw bad(raw);
    const items = texts.flatMap((t) => (typeof t === "string" ? t.split(BEFORE_KEY) : [t])).map((s) => (typeof s === "string" ? s.trim() : s)).filter(Boolean);
    for (const item of items) {
      const m = typeof item === "string" ? item.match(/^([A-Za-z0-9!#$%&'*+.^_`|~-]+)=(.+)$/) : null;
      if (!m) throw bad(item);
      out[m[1].toLowerCase()] = m[2].trim();
    }
    return out;
  });
