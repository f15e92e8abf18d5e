// Where log lines go: stdout, stderr, or a file opened for append that USR1 can reopen.
import { Buffer } from "node:buffer";
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
  if (target === "-") return stdSink(std);
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
 * stdout or stderr by write(2): setting up process.stdout/stderr costs Bun ~7 ms and ~3 MiB, in
 * every process. Should the descriptor be non-blocking and full (EAGAIN), the stream takes over
 * for good (it queues), so lines keep their order.
 */
function stdSink(std: "stdout" | "stderr"): Sink {
  const fd = std === "stdout" ? 1 : 2;
  let stream: NodeJS.WriteStream | undefined;
  return {
    write(text) {
      if (stream) return void stream.write(text);
      let bytes = Buffer.from(text);
      try {
        while (bytes.length) bytes = bytes.subarray(fs.writeSync(fd, bytes));
      } catch (err) {
        if ((err as { code?: string }).code !== "EAGAIN") return; // closed or gone: the line is lost, as with the stream
        stream = process[std];
        stream.write(bytes);
      }
    },
    reopen() {},
    close() {},
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
