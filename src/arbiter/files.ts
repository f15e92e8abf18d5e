// Log files the workers write, as the arbiter (often root) prepares them: opened without following
// a symbolic link, only when they are plain files with one name, and handed to --user by fchown on
// that descriptor — never by path, which a worker or another local user could have replaced.
import fs from "node:fs";
import { ConfigError } from "../errors.ts";
import { openAppend } from "../log/sink.ts";

/** Opens (creating) a log file for appending; a link, a directory, a FIFO or a second name is refused. */
export function openLogFile(file: string, setting: string): number {
  let fd: number;
  try {
    fd = openAppend(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ELOOP" ? "it is a symbolic link" : code === "ENOENT" ? "its directory does not exist" : code === "ENOTFILE" ? "not a plain file" : code ?? String(err);
    throw new ConfigError(`${setting} ${file}: can't open it: ${why}`, { cause: err });
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile() || st.nlink !== 1) {
    fs.closeSync(fd);
    throw new ConfigError(`${setting} ${file}: not a plain file with one name; refusing to write to it`);
  }
  return fd;
}

/** Checks every log file opens, and gives the workers' ones to `ids` (gunicorn chowns them too, so USR1 can reopen). */
export function prepareLogFiles(files: { file: string; setting: string }[], ids: { uid: number; gid: number } | null): void {
  for (const { file, setting } of files) {
    if (!file || file === "-") continue;
    const fd = openLogFile(file, setting);
    try {
      if (ids) fs.fchownSync(fd, ids.uid, ids.gid);
    } finally {
      fs.closeSync(fd);
    }
  }
}
