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
  fs.rmSync(tracePath(file), { force: true });
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

// What a worker is serving, for the arbiter's WORKER TIMEOUT line. The worker writes each request
// into a shared memory-mapped file (memory writes, no system call); the arbiter reads that file
// only when the worker has gone silent — when its event loop is stuck, it can tell nobody itself.
const TRACE_BYTES = 1024, HEADER = 16;

export const tracePath = (heartbeat: string): string => `${heartbeat}.req`;

export class RequestTrace {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #encoder = new TextEncoder();

  constructor(memory: Uint8Array) {
    this.#bytes = memory;
    this.#view = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  }

  /** A request starts: "GET /path?query". */
  started(method: string, target: string): void {
    const n = this.#encoder.encodeInto(method, this.#bytes.subarray(HEADER, TRACE_BYTES)).written;
    this.#bytes[HEADER + n] = 0x20;
    const m = this.#encoder.encodeInto(target, this.#bytes.subarray(HEADER + n + 1, TRACE_BYTES)).written;
    this.#view.setFloat64(8, Date.now(), true);
    this.#view.setUint32(0, n + 1 + m, true);
  }
}

export const TRACE_SIZE = TRACE_BYTES;

/** Arbiter: the last request the worker started, and when; null if none. */
export function readTrace(file: string): { request: string; startedAt: number } | null {
  try {
    const b = fs.readFileSync(file), v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const len = v.getUint32(0, true);
    if (!len || len > TRACE_BYTES - HEADER) return null;
    return { request: new TextDecoder().decode(b.subarray(HEADER, HEADER + len)), startedAt: v.getFloat64(8, true) };
  } catch {
    return null;
  }
}
