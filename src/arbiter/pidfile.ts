// The pid file: written when the arbiter starts, removed when it exits (only if still ours).
import fs from "node:fs";
import process from "node:process";
import { ConfigError } from "../errors.ts";

export class Pidfile {
  constructor(public path: string) {}

  /** Refuses to overwrite the pid file of a live process. */
  create(pid: number = process.pid): void {
    const old = this.read();
    if (old !== null && old !== pid && alive(old)) {
      throw new ConfigError(`Pid file ${this.path} names a running process (${old}): is guvnor already running?`);
    }
    try {
      fs.writeFileSync(this.path, `${pid}\n`);
    } catch (err) {
      throw new ConfigError(`Can't write pid file ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  read(): number | null {
    try {
      const n = parseInt(fs.readFileSync(this.path, "utf8").trim(), 10);
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch {
      return null;
    }
  }

  /** Moves our pid file (USR2: FILE → FILE.oldbin, FILE.2 → FILE). */
  rename(to: string): void {
    try {
      fs.renameSync(this.path, to);
      this.path = to;
    } catch {
      // gone or not ours: keep the old name
    }
  }

  unlink(pid: number = process.pid): void {
    if (this.read() === pid) fs.rmSync(this.path, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}
