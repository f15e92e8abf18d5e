// Heartbeat through a file's mtime: the worker touches it, the arbiter stats it.
// Works on both runtimes and any arbiter/worker mix, with no fd plumbing (runtime-facts §8).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Where worker `age` of arbiter `ppid` beats; both sides derive the same path. */
export function heartbeatPath(dir: string, ppid: number, age: number): string {
  return path.join(dir || os.tmpdir(), `guvnor-${ppid}-${age}.hb`);
}

/** Arbiter: create the file with mtime 0, meaning "not booted yet". */
export function createHeartbeat(file: string): void {
  fs.writeFileSync(file, "");
  fs.utimesSync(file, 0, 0);
}

/** Arbiter: ms since the epoch of the last beat, 0 if the worker has not beaten yet, null if gone. */
export function lastBeat(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** Arbiter: what the worker wrote in the file (a recycle request), or "". */
export function readHeartbeatNote(file: string): string {
  try {
    return fs.statSync(file).size > 0 ? fs.readFileSync(file, "utf8").trim() : "";
  } catch {
    return "";
  }
}

export function removeHeartbeat(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Worker: ask the arbiter to replace this worker (it keeps serving until told to stop). */
export function writeHeartbeatNote(file: string, note: string): void {
  fs.writeFileSync(file, note);
}

/** Worker: one beat. */
export function beat(file: string): void {
  const now = Date.now() / 1000;
  fs.utimesSync(file, now, now);
}
