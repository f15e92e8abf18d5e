// What the arbiter needs from the machine, in one object: the real one starts processes and maps
// shared memory; the unit tests pass a fake and drive the arbiter's decisions in milliseconds.
import fs from "node:fs";
import process from "node:process";
import { type ChildProcessHandle, runtime, type SpawnOptions } from "../runtime/index.ts";
import { isCloexec, setCloexec } from "../sockets/libc.ts";
import { closeFd, createFileWith, createSharedFile, mapShared } from "../sys/memory.ts";
import { SCOREBOARD_SIZE, Scoreboard } from "../worker/scoreboard.ts";
import { WakeChannel } from "./wake.ts";

/** A scoreboard the arbiter made for one worker: the descriptor to hand over, and its own view. */
export interface NewScoreboard {
  fd: number;
  board: Scoreboard;
  /** Releases the arbiter's mapping (after board.detach()). */
  release(): void;
}

export interface ArbiterContext {
  readonly runtimeName: "bun" | "deno";
  /** Starts a process with `opts.fds` handed over (and only those of ours that are inheritable). */
  spawn(opts: SpawnOptions): ChildProcessHandle;
  /** Where a child of spawn() finds the fds it was handed. */
  childFds(fds: number[]): number[];
  onSignal(signal: string, handler: () => void): void;
  /** A worker's scoreboard: anonymous shared memory, or an unnamed file in `dir` when set. */
  createScoreboard(dir: string): NewScoreboard;
  /** Anonymous shared memory of `bytes`, preallocated: a close-on-exec descriptor. */
  createSharedMemory(bytes: number): number;
  /** A close-on-exec descriptor of anonymous memory holding `data` (a secret for one child). */
  createFileWith(data: Uint8Array): number;
  /** Closes a descriptor of ours once the child holds its copy. */
  closeFd(fd: number): void;
  /** SIGKILLs what is left of a process group (what a dead worker forked). */
  killGroup(pgid: number): void;
  /** Resident memory of a process in bytes, 0 when unknown. */
  rssBytes(pid: number): number;
  now(): number;
  /** The write end of a channel on which any child wakes `onWake` (arbiter/wake.ts), close-on-exec; undefined where there is none. */
  openWakeChannel?(onWake: () => void): number | undefined;
}

export const realContext: ArbiterContext = {
  runtimeName: runtime.name,
  spawn(opts) {
    // Deno.Command children inherit every descriptor without close-on-exec at its own number:
    // the handed ones are inheritable only for the moment of this spawn. (Bun places them.)
    const closing = opts.fds.filter((fd) => isCloexec(fd));
    for (const fd of closing) setCloexec(fd, false);
    try {
      return runtime.spawn(opts);
    } finally {
      for (const fd of closing) setCloexec(fd, true);
    }
  },
  childFds: (fds) => runtime.childFds(fds),
  onSignal: (signal, handler) => runtime.onSignal(signal, handler),
  createScoreboard(dir) {
    const fd = createSharedFile(SCOREBOARD_SIZE, dir);
    try {
      const mapping = mapShared(fd, SCOREBOARD_SIZE);
      return { fd, board: new Scoreboard(mapping.bytes).init(), release: mapping.unmap };
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  },
  createSharedMemory: (bytes) => createSharedFile(bytes, ""),
  createFileWith,
  closeFd,
  killGroup(pgid) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // nothing left in it
    }
  },
  rssBytes(pid) {
    try {
      const kb = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m);
      return kb ? Number(kb[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  },
  now: () => Date.now(),
  openWakeChannel(onWake) {
    try {
      return WakeChannel.open(onWake).writeFd;
    } catch {
      return undefined; // the loop's tick still reads every scoreboard
    }
  },
};
