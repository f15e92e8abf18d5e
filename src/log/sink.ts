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
    reopen() {
      const old = fd;
      fd = openAppend(target);
      fs.closeSync(old);
    },
    close: () => fs.closeSync(fd),
  };
}

/** Append, creating 0644; never through a symbolic link (a link planted at a log path is refused). */
function openAppend(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fs.constants;
  return fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644);
}
