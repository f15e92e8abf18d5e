// One consola root per process, with a reporter that writes gunicorn's error-log lines:
//   [2026-11-26 11:28:10 +0000] [61993] [INFO] Starting guvnor 0.1.0
import process from "node:process";
import { type ConsolaInstance, createConsola, type LogObject } from "consola/core";
import type { Sink } from "./sink.ts";
import type { LogLevel } from "../types.ts";

export type Logger = ConsolaInstance;

/** gunicorn's level names → consola's numeric levels. */
export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = { critical: 0, error: 0, warning: 1, info: 3, debug: 4 };
export type { LogLevel };

const LABELS: Record<string, string> = {
  fatal: "CRITICAL", error: "ERROR", warn: "WARNING", debug: "DEBUG", trace: "DEBUG",
};

/** `2026-11-26 11:28:10 +0000` in local time, as gunicorn's `%Y-%m-%d %H:%M:%S %z`. */
export function formatTimestamp(d: Date): string {
  const p = (n: number) => String(Math.abs(n)).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? "+" : "-"}${p(Math.trunc(off / 60))}${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone}`;
}

/** An error's stack, then its causes' ("Caused by: …"), so the user sees where it started. */
function formatError(err: Error): string {
  let out = err.stack ?? `${err.name}: ${err.message}`;
  for (let c = err.cause, depth = 0; c !== undefined && depth < 5; c = (c as Error)?.cause, depth++) {
    out += `\nCaused by: ${c instanceof Error ? c.stack ?? c.message : String(c)}`;
  }
  return out;
}

function formatArgs(args: unknown[]): string {
  return args.map((a) => {
    if (typeof a === "string") return a;
    if (a instanceof Error) return formatError(a);
    // node:util only when a line has such an argument: most processes never load it.
    return process.getBuiltinModule("node:util").inspect(a, { depth: 4, colors: false });
  }).join(" ");
}

/** A consola reporter writing gunicorn-format lines to a sink. */
export function gunicornReporter(sink: () => Sink) {
  return {
    log(obj: LogObject): void {
      const label = LABELS[obj.type] ?? "INFO";
      sink().write(`[${formatTimestamp(obj.date)}] [${process.pid}] [${label}] ${formatArgs(obj.args)}\n`);
    },
  };
}

/** gunicorn's level names, as the JSON lines spell them. */
const LEVEL_NAMES: Record<string, string> = {
  fatal: "critical", error: "error", warn: "warning", debug: "debug", trace: "debug",
};

/** A consola reporter writing one JSON object per line: time, level, pid, message (and tag). */
export function jsonReporter(sink: () => Sink) {
  return {
    log(obj: LogObject): void {
      const line: Record<string, unknown> = {
        time: obj.date.toISOString(), level: LEVEL_NAMES[obj.type] ?? "info", pid: process.pid, message: formatArgs(obj.args),
      };
      if (obj.tag) line.tag = obj.tag;
      sink().write(JSON.stringify(line) + "\n");
    },
  };
}

export interface LoggerOptions {
  level: LogLevel;
  sink: () => Sink;
  /** `text` (gunicorn's lines, the default) or `json` (one object per line). */
  format?: "text" | "json";
}

/** The process's root logger; children come from `withTag()`. */
export function createLogger(opts: LoggerOptions): Logger {
  return createConsola({
    level: LOG_LEVELS[opts.level],
    reporters: [opts.format === "json" ? jsonReporter(opts.sink) : gunicornReporter(opts.sink)],
    // Repeated identical lines (a crash loop) collapse instead of flooding the log.
    throttle: 1000,
    throttleMin: 5,
  });
}

/** For command-line errors before the config is known: `Error: <message>` on stderr. */
export function createCliLogger(sink: Sink): Logger {
  return createConsola({
    level: LOG_LEVELS.info,
    reporters: [{
      log(obj: LogObject) {
        const prefix = obj.type === "error" || obj.type === "fatal" ? "Error: " : "";
        sink.write(`${prefix}${formatArgs(obj.args)}\n`);
      },
    }],
  });
}
