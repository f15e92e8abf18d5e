// What the arbiter needs from the machine, in one object: the real one starts processes and maps
// shared memory; the unit tests pass a fake and drive the arbiter's decisions in milliseconds.
import fs from "node:fs";
import process from "node:process";
import { type ChildProcessHandle, runtime, type SpawnOptions } from "../runtime/index.ts";
import { isCloexec, setCloexec } from "../sockets/libc.ts";
import { closeFd, createFileWith, createSharedFile, readAt, writeAt } from "../sys/memory.ts";
import { isTerminal, makeWriteOnly, raiseFdLimit } from "../sys/process.ts";
import { rssBytes } from "../control/procfs.ts";
import { SCOREBOARD_SIZE, Scoreboard } from "../worker/scoreboard.ts";
import { WakeChannel } from "./wake.ts";

/** A scoreboard the arbiter made for one worker: the descriptor to hand over (the arbiter keeps it, to read), and its copy. */
export interface NewScoreboard {
  fd: number;
  board: Scoreboard;
  /** Closes the arbiter's descriptor (the board keeps its last values). */
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
  /** Makes this process's terminal descriptors but stdin write-only (workers inherit stdout and stderr). */
  writeOnlyTerminal(): void;
  /** Raises this process's soft limit on open files to the hard one. */
  raiseFdLimit(): void;
  /** Marks every descriptor this process has close-on-exec, so a child gets only what spawn() hands it. */
  closeOnExecAll(): void;
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

/**
 * Starts a process with `opts.fds` handed over. Deno.Command children inherit every descriptor
 * without close-on-exec at its own number: the arbiter keeps all of its own close-on-exec
 * (closeOnExecAll), and the handed ones are inheritable only for the moment of this spawn.
 * (Bun.spawn places the handed ones and closes the rest.)
 */
export function spawnHanding(opts: SpawnOptions): ChildProcessHandle {
  const closing = opts.fds.filter((fd) => isCloexec(fd));
  for (const fd of closing) setCloexec(fd, false);
  try {
    return runtime.spawn(opts);
  } finally {
    for (const fd of closing) setCloexec(fd, true);
  }
}

export const realContext: ArbiterContext = {
  runtimeName: runtime.name,
  spawn: spawnHanding,
  childFds: (fds) => runtime.childFds(fds),
  onSignal: (signal, handler) => runtime.onSignal(signal, handler),
  createScoreboard(dir) {
    const fd = createSharedFile(SCOREBOARD_SIZE, dir);
    try {
      // Read with pread into a copy, never mapped here: nothing a worker does to it can fault us.
      const board = new Scoreboard(new Uint8Array(SCOREBOARD_SIZE), (into) => readAt(fd, into)).init();
      writeAt(fd, board.mark);
      return { fd, board, release: () => closeFd(fd) };
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  },

  createSharedMemory: (bytes) => createSharedFile(bytes, ""),
  writeOnlyTerminal() {
    // stdout and stderr, and the copies of them a runtime keeps for its own children's "inherit"
    // (Deno dups the standard streams at start): every terminal descriptor but stdin.
    for (const name of fs.readdirSync("/proc/self/fd")) {
      const fd = Number(name);
      try {
        if (fd === 0 || !isTerminal(fd)) continue;
        const cloexec = isCloexec(fd);
        makeWriteOnly(fd);
        if (cloexec) setCloexec(fd, true);
      } catch {
        // keep the descriptor as it is (closed meanwhile: readdir's own)
      }
    }
  },
  raiseFdLimit() {
    try {
      raiseFdLimit();
    } catch {
      // keep the limit we have
    }
  },
  closeOnExecAll() {
    for (const name of fs.readdirSync("/proc/self/fd")) {
      const fd = Number(name);
      try {
        if (fd > 2) setCloexec(fd, true);
      } catch {
        // closed meanwhile (readdir's own descriptor)
      }
    }
  },
  createFileWith,
  closeFd,
  killGroup(pgid) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // nothing left in it
    }
  },
  rssBytes: (pid) => rssBytes(pid) ?? 0,
  now: () => Date.now(),
  openWakeChannel(onWake) {
    try {
      return WakeChannel.open(onWake).writeFd;
    } catch {
      return undefined; // the loop's tick still reads every scoreboard
    }
  },
};
