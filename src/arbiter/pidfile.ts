// The pid file, as gunicorn writes it: the pid goes into a new temporary file in the same
// directory (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0644), which is then renamed over the path. rename()
// replaces whatever the path was — a symlink planted there is replaced, never followed, so the
// arbiter (perhaps root) never writes into a file someone else chose. Reading is as careful: only a
// regular file is read, opened with O_NOFOLLOW. Removed at exit only if it still holds our pid.
import { Buffer } from "node:buffer";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { ConfigError } from "../errors.ts";

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = fs.constants;

export class Pidfile {
  constructor(public path: string) {}

  /** Refuses to overwrite the pid file of a live process. */
  create(pid: number = process.pid): void {
    const old = this.read();
    if (old !== null && old !== pid && alive(old)) {
      throw new ConfigError(`Pid file ${this.path} names a running process (${old}): is guvnor already running?`);
    }
    let tmp = "";
    try {
      tmp = writeTemp(path.dirname(this.path), path.basename(this.path), `${pid}\n`);
      fs.renameSync(tmp, this.path);
    } catch (err) {
      if (tmp) fs.rmSync(tmp, { force: true });
      const code = (err as { code?: string }).code;
      const why = code === "ENOENT" ? "its directory does not exist" : code === "EACCES" ? "permission denied" : code ?? (err as Error).message;
      throw new ConfigError(`Can't write pid file ${this.path}: ${why}`, { cause: err });
    }
  }

  /** The pid in the file, or null when it is missing, not a regular file, or not a pid. */
  read(): number | null {
    const text = readRegular(this.path);
    const n = text === null ? NaN : Number(text.trim());
    return Number.isInteger(n) && n > 0 ? n : null;
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

  /** Removes the file if it still holds our pid (another arbiter may have taken the path since). */
  unlink(pid: number = process.pid): void {
    if (this.read() === pid) fs.rmSync(this.path, { force: true });
  }
}

/** A new file `.<name>.<random>` in `dir` holding `text`; its path. */
function writeTemp(dir: string, name: string, text: string): string {
  for (let attempt = 0; ; attempt++) {
    const tmp = path.join(dir, `.${name}.${Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex")}`);
    let fd: number;
    try {
      fd = fs.openSync(tmp, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY, 0o644);
    } catch (err) {
      if ((err as { code?: string }).code === "EEXIST" && attempt < 10) continue;
      throw err;
    }
    try {
      fs.fchmodSync(fd, 0o644); // as gunicorn: readable by all whatever the umask
      fs.writeSync(fd, text);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    } finally {
      fs.closeSync(fd);
    }
    return tmp;
  }
}

/** The start of a regular file at `file`, without following a symlink or blocking on a FIFO. */
function readRegular(file: string): string | null {
  let fd: number | undefined;
  try {
    if (!fs.lstatSync(file).isFile()) return null;
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fs.fstatSync(fd).isFile()) return null; // replaced between lstat and open
    const buf = Buffer.alloc(64);
    return buf.toString("utf8", 0, fs.readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
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
