// Parsers for setting values. Each takes a raw value (a flag's string, an environment string,
// or a config file's JSON value) and a `source` naming where it came from (`--workers`,
// `GUVNOR_WORKERS`, `workers in guvnor.config.ts`), and returns the typed value or throws.
import { ConfigError } from "../errors.ts";

export type Parser<T = unknown> = ((raw: unknown, source: string) => T) & { kind: "value" | "boolean" | "list" };

const show = (v: unknown) => (typeof v === "string" ? `"${v}"` : JSON.stringify(v) ?? String(v));
const fail = (source: string, what: string, raw: unknown) => new ConfigError(`${source} must be ${what} (got ${show(raw)})`);
const parser = <T>(kind: Parser["kind"], fn: (raw: unknown, source: string) => T): Parser<T> => Object.assign(fn, { kind });

export const str = (): Parser<string> =>
  parser("value", (raw, source) => {
    if (typeof raw !== "string") throw fail(source, "a string", raw);
    return raw;
  });

/** A string that is empty (off) or passes `check`. */
export const optional = (check: (s: string, source: string) => void): Parser<string> =>
  parser("value", (raw, source) => {
    if (typeof raw !== "string") throw fail(source, "a string", raw);
    if (raw !== "") check(raw, source);
    return raw;
  });

export const oneOf = <T extends string>(...choices: T[]): Parser<T> =>
  parser("value", (raw, source) => {
    if (typeof raw !== "string" || !choices.includes(raw as T)) throw fail(source, `one of ${choices.join(", ")}`, raw);
    return raw as T;
  });

/** An integer ≥ min; `what` reads "a positive integer", "0 or more". */
export const int = (min: number, what: string): Parser<number> =>
  parser("value", (raw, source) => {
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min) throw fail(source, what, raw);
    return n;
  });

/**
 * The longest duration a setting takes: one day. Timers hold at most 2^31-1 ms (about 24.8 days);
 * a longer delay overflows and fires at once, so a huge --graceful-timeout would kill in-flight
 * requests instead of waiting for them.
 */
export const MAX_SECONDS = 86_400;

/** A number of seconds from `min` to a day (fractions allowed). */
export const seconds = (min: number): Parser<number> =>
  parser("value", (raw, source) => {
    const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
    if (!Number.isFinite(n) || n < min || n > MAX_SECONDS) throw fail(source, `${min} to ${MAX_SECONDS} seconds`, raw);
    return n;
  });

export const bool = (): Parser<boolean> =>
  parser("boolean", (raw, source) => {
    if (typeof raw === "boolean") return raw;
    const s = String(raw).trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(s)) return true;
    if (["0", "false", "no", "off", ""].includes(s)) return false;
    throw fail(source, "true or false", raw);
  });

/**
 * Flags repeat, config files use arrays, and items may also be separated by commas (a flag's
 * value as an environment variable's). `separator` splits one text into items: any comma, or
 * for KEY=VALUE items only a comma that starts the next KEY= (a value may hold commas).
 */
export const list = (item?: (s: string, source: string) => void, separator: RegExp = /,/, unique = false): Parser<string[]> =>
  parser("list", (raw, source) => {
    const texts = Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : null;
    if (!texts || texts.some((x) => typeof x !== "string")) throw fail(source, "a list of strings", raw);
    const items = (texts as string[]).flatMap((t) => t.split(separator)).map((s) => s.trim()).filter(Boolean);
    for (const s of items) item?.(s, source);
    const twice = unique && items.find((s, i) => items.indexOf(s) !== i);
    if (twice) throw new ConfigError(`${source} gives ${twice} twice`);
    return items as string[];
  });

/** Splits KEY=VALUE items: a comma starts a new item only where a KEY= follows it. */
export const BEFORE_KEY = /,(?=\s*[A-Za-z_][A-Za-z0-9_-]*=)/;

export const keyValue = (s: string, source: string): void => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(s)) throw fail(source, "KEY=VALUE", s);
};

/** A file mode mask: octal text ("022", "0o22"), hex ("0x12") or a number, as gunicorn. */
export const umask = (): Parser<number> =>
  parser("value", (raw, source) => {
    const s = String(raw).trim().toLowerCase();
    const n = typeof raw === "number" ? raw
      : /^0x[0-9a-f]+$/.test(s) ? parseInt(s.slice(2), 16)
      : /^(0o)?[0-7]+$/.test(s) ? parseInt(s.replace(/^0o/, ""), 8)
      : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 0o777) throw fail(source, "an octal mode such as 022", raw);
    return n;
  });

/** A string matching `re`; `what` says what was expected. */
export const matching = (re: RegExp, what: string): Parser<string> =>
  parser("value", (raw, source) => {
    if (typeof raw !== "string" || !re.test(raw)) throw fail(source, what, raw);
    return raw;
  });
