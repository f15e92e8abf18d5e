// `guvnor ctl [-s PATH] COMMAND [ARG] [--json]`: see and steer a running arbiter through its
// control socket (docs/control.md). Exit codes: 0 done, 1 bad command or refused, 2 unreachable.
import process from "node:process";
import { parseArgs } from "node:util";
import { defineCommand } from "citty";
import { ControlClient, UnreachableError } from "../control/client.ts";
import type { Reply, StatsData, StatusData, WorkerRow } from "../control/protocol.ts";
import { openSink } from "../log/sink.ts";
import { formatStats, formatStatus, formatWorkers } from "./ctl-format.ts";

export const CTL_EXIT = { OK: 0, USAGE: 1, UNREACHABLE: 2 } as const;

const USAGE = `Usage: guvnor ctl [-s PATH] COMMAND [ARG] [--json]

Commands:
  status         the arbiter: pid, version, runtime, uptime, generation, listeners, totals
  workers        one row per worker: pid, age, generation, state, uptime, requests, RSS, CPU
  stats          requests and their rate, in flight, latency p50/p99, restarts, listen queues
  top            workers and stats, refreshed every second, until q or Ctrl-C
  scale N        run N workers
  add [N]        N more workers (1)
  remove [N]     N fewer workers (1), never below one
  kill PID       replace one worker gracefully, its replacement first
  reload         as HUP: reload the config, replace every worker
  reopen         as USR1: reopen the log files
  upgrade        as USR2: start a new arbiter from the executable on disk
  stop [--quick] as TERM (graceful) or INT (--quick); waits until the arbiter has exited

Options:
  -s, --socket PATH  the control socket (default: $GUVNOR_CONTROL_SOCKET, else ./guvnor.ctl)
  --json             print the answer as JSON (stable field names, for scripts)
`;

export const ctlCommand = defineCommand({
  meta: { name: "guvnor ctl", description: "See and steer a running guvnor through its control socket" },
  args: {
    command: { type: "positional", required: false, description: "status, workers, stats, top, scale N, add [N], remove [N], kill PID, reload, reopen, upgrade, stop" },
    socket: { type: "string", alias: "s", valueHint: "PATH", description: "The control socket (default: $GUVNOR_CONTROL_SOCKET, else ./guvnor.ctl)" },
    json: { type: "boolean", description: "Print the answer as JSON" },
    quick: { type: "boolean", description: "stop: quick (INT) instead of graceful (TERM)" },
  },
  async run({ rawArgs }) {
    return await runCtl(rawArgs);
  },
});

/** Runs `guvnor ctl` with the arguments after `ctl`; returns the exit code. */
export async function runCtl(argv: string[]): Promise<number> {
  const out = openSink("-", "stdout"), err = openSink("-", "stderr");
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { socket: { type: "string", short: "s" }, json: { type: "boolean" }, quick: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    err.write(`guvnor ctl: ${(e as Error).message} (guvnor ctl --help)\n`);
    return CTL_EXIT.USAGE;
  }
  const { values, positionals: [cmd, arg, ...extra] } = parsed;
  if (values.help) return out.write(USAGE), CTL_EXIT.OK;
  const request = cmd ? toRequest(cmd, arg, extra, values.quick === true) : "missing a command";
  if (typeof request === "string") return err.write(`guvnor ctl: ${request} (guvnor ctl --help)\n`), CTL_EXIT.USAGE;
  const path = values.socket || process.env.GUVNOR_CONTROL_SOCKET || "guvnor.ctl";
  let client: ControlClient | undefined;
  try {
    client = await ControlClient.connect(path);
    if (cmd === "top") {
      const { runTop } = await import("./top.ts");
      return await runTop(client, out);
    }
    const reply = await client.request(request.cmd, request.args);
    if (!reply.ok) return err.write(`guvnor ctl: ${reply.error}\n`), CTL_EXIT.USAGE;
    out.write(values.json ? JSON.stringify(reply.data, null, 2) + "\n" : human(cmd, reply, path) + "\n");
    if (cmd === "stop") await client.closed; // the arbiter has exited when it closes the connection
    return CTL_EXIT.OK;
  } catch (e) {
    if (!(e instanceof UnreachableError)) throw e;
    err.write(`guvnor ctl: cannot reach the arbiter at ${e.message}\n`);
    return CTL_EXIT.UNREACHABLE;
  } finally {
    client?.close();
  }
}

const count = (v: string | undefined, name: string, fallback?: number): number | string => {
  if (v === undefined && fallback !== undefined) return fallback;
  return v !== undefined && /^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : `${name} must be a positive whole number (got ${v === undefined ? "nothing" : `"${v}"`})`;
};

/** The protocol request for a command line, or what is wrong with it. */
function toRequest(cmd: string, arg: string | undefined, extra: string[], quick: boolean): { cmd: string; args: Record<string, unknown> } | string {
  if (extra.length) return `unexpected argument "${extra[0]}"`;
  const noArg = ["status", "workers", "stats", "top", "reload", "reopen", "upgrade", "stop"];
  if (noArg.includes(cmd)) return arg === undefined ? { cmd: cmd === "top" ? "status" : cmd, args: cmd === "stop" ? { quick } : {} } : `${cmd} takes no argument (got "${arg}")`;
  const n = cmd === "scale" ? count(arg, "scale: N") : cmd === "add" || cmd === "remove" ? count(arg, `${cmd}: N`, 1) : cmd === "kill" ? count(arg, "kill: PID") : null;
  if (n === null) return `unknown command "${cmd}"`;
  if (typeof n === "string") return n;
  return { cmd, args: cmd === "kill" ? { pid: n } : { n } };
}

function human(cmd: string, reply: Reply & { ok: true }, path: string): string {
  const d = reply.data as Record<string, unknown>;
  switch (cmd) {
    case "status": return formatStatus(d as unknown as StatusData);
    case "workers": return formatWorkers(d as unknown as WorkerRow[]);
    case "stats": return formatStats(d as unknown as StatsData);
    case "scale": case "add": case "remove": return `workers: ${d.was} -> ${d.workers}`;
    case "kill": return "replacing that worker: its replacement starts first";
    case "reload": return "reloading (as HUP)";
    case "reopen": return "reopening the log files (as USR1)";
    case "upgrade": return "starting a new arbiter (as USR2)";
    case "stop": return `stopping the arbiter at ${path}`;
  }
  return JSON.stringify(d);
}
