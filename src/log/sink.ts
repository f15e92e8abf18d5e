// Where log lines go: stdout, stderr, or a file opened for append that USR1 can reopen.
import fs from "node:fs";
import process from "node:process";

export interface Sink {
  write(text: string): void;
  /** Reopens the file (after logrotate moved it); a no-op for stdout/stderr. */
  reopen(): void;
  close(): void;
}

/** `-` means the given standard stream; anything else is a file path. */
export function openSink(target: string, std: "stdout" | "stderr"): Sink {
  if (target === "-") {
    const stream = std === "stdout" ? process.stdout : process.stderr;
    return { write: (t) => void stream.write(t), reopen() {}, close() {} };
  }
  let fd = openAppend(target);
  return {
    write: (t) => void fs.writeSync(fd, t),
    /** Throws when the file cannot be opened again; the old one stays in use. */
    reopen() {
      const old = fd;
      fd = openAppend(target);
      fs.closeSync(old);
    },
    close: () => fs.closeSync(fd),
  };
}

/**
 * Append, creating 0644; only a plain file. Never through a symbolic link, and without waiting: a
 * FIFO planted at a log path would otherwise block the opening process (the arbiter) for good.
 */
export function openAppend(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw Object.assign(new Error(`${file} is not a plain file`), { code: "ENOTFILE" });
  }
  return fd;
}
